use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
#[health(interval = "5s")]
struct State {
    #[health(readiness, timeout = "5s")]
    db: TcpCheck,
}

fn main() {}
