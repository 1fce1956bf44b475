use health_core::HealthCheck;

#[derive(HealthCheck)]
struct State {
    #[health(check(name = "billing", readiness, with = Self::ping_billing))]
    billing_url: String,
}

impl State {
    async fn ping_billing(&self) -> bool {
        !self.billing_url.is_empty()
    }
}

fn main() {}
