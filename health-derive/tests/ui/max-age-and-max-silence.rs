use health_core::{HealthCheck, Heartbeat};

#[derive(HealthCheck)]
struct State {
    #[health(liveness, max_age = "30s", max_silence = "30s")]
    worker: Heartbeat,
}

fn main() {}
