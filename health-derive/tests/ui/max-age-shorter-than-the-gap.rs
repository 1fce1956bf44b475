use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
#[health(interval = "10s")]
struct State {
    #[health(readiness, max_age = "5s")]
    db: TcpCheck,
}

fn main() {}
