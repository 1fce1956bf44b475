use health_core::HealthCheck;

struct Pool;

async fn ping(_: &Pool) -> bool {
    true
}

#[derive(HealthCheck)]
struct State {
    #[health(readiness, kind = "external", with = ping)]
    db: Pool,
}

fn main() {}
