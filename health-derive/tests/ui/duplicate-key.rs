use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, timeout = "1s", timeout = "2s")]
    db: TcpCheck,
}

fn main() {}
