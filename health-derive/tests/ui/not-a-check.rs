use health_core::HealthCheck;

struct Pool;

#[derive(HealthCheck)]
struct State {
    #[health(readiness)]
    db: Pool,
}

fn main() {}
