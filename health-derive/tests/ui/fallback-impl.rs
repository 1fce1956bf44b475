use std::sync::Arc;

use health_core::{HealthCheck, RegistryBuilder, StartupGate};

#[derive(HealthCheck)]
struct State {
    #[health(startup, timeout = 5)]
    migrations: StartupGate,
}

#[derive(HealthCheck)]
struct Outer {
    #[health(flatten)]
    state: State,
}

fn main() {
    // Only the attribute error above: the type still implements the trait.
    let state = Arc::new(State { migrations: StartupGate::new() });
    let _ = RegistryBuilder::new().register(&state);
    let _ = state.migrations.is_done();
    let _ = Outer { state: State { migrations: StartupGate::new() } };
}
