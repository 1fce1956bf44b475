use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, critical = "false")]
    db: TcpCheck,
}

fn main() {}
