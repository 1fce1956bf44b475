use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
#[health(crate = health)]
struct State {
    #[health(startup)]
    warmup: StartupGate,
}

fn main() {}
