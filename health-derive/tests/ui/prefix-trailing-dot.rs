use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
#[health(prefix = "api.")]
struct State {
    #[health(startup)]
    migrations: StartupGate,
}

fn main() {}
