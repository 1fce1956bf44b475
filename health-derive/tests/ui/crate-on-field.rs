use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, crate = health_core)]
    warmup: StartupGate,
}

fn main() {}
