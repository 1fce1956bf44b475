use health_core::HealthCheck;

struct Queue;

async fn drained(_: &Queue) -> bool {
    true
}

#[derive(HealthCheck)]
struct State {
    #[health(liveness, kind = "internal", allow_dependency, with = drained)]
    queue: Queue,
}

fn main() {}
