use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, max_silence = "30s")]
    db: TcpCheck,
}

fn main() {}
