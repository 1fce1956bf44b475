use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(liveness, allow_dependency, initial_delay = "1m", max_age = "30s")]
    db: TcpCheck,
}

fn main() {}
