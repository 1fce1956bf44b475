use health_core::{HealthCheck, StartupGate, TcpCheck};

#[derive(HealthCheck)]
#[health(intreval = "10s")]
struct State {
    #[health(readiness, timeout = "1.5s")]
    db: TcpCheck,
    #[health(startup, startup)]
    migrations: StartupGate,
    #[health(critical = false)]
    cache: TcpCheck,
}

fn main() {}
