use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(liveness, kind = "internal")]
    db: TcpCheck,
}

fn main() {}
