use health_core::HealthCheck;

struct Pool;

async fn ping(_: &Pool) -> u32 {
    7
}

#[derive(HealthCheck)]
struct State {
    #[health(readiness, with = ping)]
    db: Pool,
}

fn main() {}
