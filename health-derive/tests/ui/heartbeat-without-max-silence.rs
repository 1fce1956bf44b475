use health_core::{HealthCheck, Heartbeat};

#[derive(HealthCheck)]
struct State {
    #[health(liveness)]
    worker: Heartbeat,
}

fn main() {}
