use health_core::HealthCheck;

#[derive(HealthCheck)]
#[health(check(name = "startup", readiness, with = Self::ping_billing))]
struct State {
    billing_url: String,
}

impl State {
    async fn ping_billing(&self) -> bool {
        !self.billing_url.is_empty()
    }
}

fn main() {}
