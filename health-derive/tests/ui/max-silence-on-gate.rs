use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, max_silence = "30s")]
    migrations: StartupGate,
}

fn main() {}
