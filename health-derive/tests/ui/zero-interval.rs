use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, interval = "0s")]
    db: TcpCheck,
}

fn main() {}
