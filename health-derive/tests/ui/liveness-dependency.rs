use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(liveness)]
    db: TcpCheck,
}

fn main() {}
