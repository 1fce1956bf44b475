use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, initial_delay = "6000000h")]
    db: TcpCheck,
}

fn main() {}
