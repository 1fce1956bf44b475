use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
#[allow(non_snake_case)]
struct State {
    #[health(startup)]
    Migrations: StartupGate,
}

fn main() {}
