use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct Queues {
    #[health(startup)]
    depth: StartupGate,
}

#[derive(HealthCheck)]
struct State {
    #[health(flatten)]
    queues: Queues,
    #[health(startup, name = "queues.depth")]
    backlog: StartupGate,
}

fn main() {}
