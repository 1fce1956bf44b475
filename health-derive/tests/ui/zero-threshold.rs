use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, failure_threshold = 0)]
    db: TcpCheck,
}

fn main() {}
