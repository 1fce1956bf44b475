use health_core::HealthCheck;

struct Pool;

async fn ping(_: &u32) -> bool {
    true
}

#[derive(HealthCheck)]
struct State {
    #[health(readiness, with = ping)]
    db: Pool,
}

fn main() {}
