use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, name = "db..migrations")]
    migrations: StartupGate,
}

fn main() {}
