use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
#[health(readiness)]
struct State {
    #[health(readiness)]
    db: TcpCheck,
}

fn main() {}
