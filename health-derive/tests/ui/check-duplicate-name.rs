use health_core::{HealthCheck, StartupGate};

#[derive(HealthCheck)]
#[health(check(name = "billing", readiness, with = Self::ping_billing))]
struct State {
    billing_url: String,
    #[health(startup)]
    billing: StartupGate,
}

impl State {
    async fn ping_billing(&self) -> bool {
        !self.billing_url.is_empty()
    }
}

fn main() {}
