use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, name = "shutdown")]
    drain: StartupGate,
}

fn main() {}
