use health_core::HealthCheck;

struct Queues;

#[derive(HealthCheck)]
struct State {
    #[health(flatten)]
    queues: Queues,
}

fn main() {}
