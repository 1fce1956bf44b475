use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
#[health(prefix = "a-rather-long-service-name")]
struct State {
    #[health(startup, name = "database-schema-migrations-and-seed-data")]
    migrations: StartupGate,
}

fn main() {}
