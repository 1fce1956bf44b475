use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, name = "DB migrations")]
    migrations: StartupGate,
}

fn main() {}
