use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness = true)]
    db: TcpCheck,
}

fn main() {}
