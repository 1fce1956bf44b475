use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness(now), timeout = "1s")]
    db: TcpCheck,
}

fn main() {}
