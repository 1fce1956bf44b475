use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct Queues {
    #[health(startup)]
    depth: StartupGate,
}

#[derive(HealthCheck)]
struct State {
    #[health(flatten, name = "kafka.queues")]
    queues: Queues,
}

fn main() {}
