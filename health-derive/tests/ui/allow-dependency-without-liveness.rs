use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, allow_dependency)]
    db: TcpCheck,
}

fn main() {}
