use health_core::{HealthCheck, RuntimeLag};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, max_silence = "500ms", interval = "1s")]
    runtime_lag: RuntimeLag,
}

fn main() {}
