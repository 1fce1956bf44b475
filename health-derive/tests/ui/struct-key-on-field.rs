use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, prefix = "api")]
    db: TcpCheck,
}

fn main() {}
