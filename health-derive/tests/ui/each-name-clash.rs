use health_core::{HealthCheck, StartupGate, TcpCheck};

#[derive(HealthCheck)]
struct State {
    #[health(readiness, each)]
    upstreams: Vec<TcpCheck>,
    #[health(startup, name = "upstreams.billing")]
    billing: StartupGate,
}

fn main() {}
