use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, timeout)]
    db: TcpCheck,
}

fn main() {}
