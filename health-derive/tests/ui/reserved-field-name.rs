use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup)]
    startup: StartupGate,
}

fn main() {}
