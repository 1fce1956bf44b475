use health_core::{HealthCheck, RuntimeStall};

#[derive(HealthCheck)]
struct State {
    #[health(liveness)]
    runtime: RuntimeStall,
}

fn main() {}
