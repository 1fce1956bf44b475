use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct State(#[health(startup)] StartupGate);

fn main() {}
