use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, each)]
    db: TcpCheck,
}

fn main() {}
