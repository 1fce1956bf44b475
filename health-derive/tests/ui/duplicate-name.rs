use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup)]
    migrations: StartupGate,
    #[health(startup, name = "migrations")]
    schema: StartupGate,
}

fn main() {}
