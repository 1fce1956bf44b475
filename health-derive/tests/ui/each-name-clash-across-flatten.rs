use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
struct Pool {
    #[health(startup, each)]
    shards: Vec<StartupGate>,
}

#[derive(HealthCheck)]
struct State {
    #[health(flatten)]
    pool: Pool,
    #[health(startup, name = "pool.shards.0")]
    first: StartupGate,
}

fn main() {}
