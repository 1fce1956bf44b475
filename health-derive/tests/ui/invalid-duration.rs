use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, timeout = "5x")]
    db: TcpCheck,
}

fn main() {}
