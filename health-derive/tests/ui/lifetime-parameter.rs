use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State<'a> {
    #[health(startup)]
    migrations: &'a StartupGate,
}

fn main() {}
