use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(timeout = "1s")]
    db: TcpCheck,
}

fn main() {}
