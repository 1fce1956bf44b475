use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(liveness, each)]
    upstreams: Vec<TcpCheck>,
}

fn main() {}
