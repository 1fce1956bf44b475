use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, each, name = "eu.upstreams")]
    upstreams: Vec<TcpCheck>,
}

fn main() {}
