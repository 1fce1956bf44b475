use health_core::HealthCheck;

struct Pool;

async fn ping(_: &Pool) -> bool {
    true
}

#[derive(HealthCheck)]
struct State {
    #[health(readiness, with = ping, max_silence = "30s")]
    db: Pool,
}

fn main() {}
