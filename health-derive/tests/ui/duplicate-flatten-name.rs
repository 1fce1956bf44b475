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
    #[health(flatten, name = "queues")]
    more: Queues,
}

fn main() {}
