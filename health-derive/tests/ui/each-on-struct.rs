use health_core::{HealthCheck, TcpCheck};

#[derive(HealthCheck)]
#[health(each)]
struct State {
    #[health(readiness)]
    upstreams: Vec<TcpCheck>,
}

fn main() {}
