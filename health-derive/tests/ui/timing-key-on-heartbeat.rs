use health_core::{HealthCheck, Heartbeat};

#[derive(HealthCheck)]
struct State {
    #[health(liveness, max_silence = "30s", interval = "10s")]
    worker: Heartbeat,
}

fn main() {}
