use health_core::HealthCheck;

struct Pool;

#[derive(HealthCheck)]
struct State {
    #[health(readiness, each)]
    pools: Vec<Pool>,
}

fn main() {}
