use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, timout = "1s")]
    migrations: StartupGate,
}

fn main() {}
