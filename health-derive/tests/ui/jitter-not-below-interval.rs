use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, interval = "5s", jitter = "5s")]
    db: TcpCheck,
}

fn main() {}
