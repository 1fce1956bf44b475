use health_core::HealthCheck;

#[derive(HealthCheck)]
struct State {
    #[health(readiness, with = Self::ping_billing)]
    billing_url: String,
}

impl State {
    // On a field, a method of the state also receives the field: `(&self, &String)`.
    async fn ping_billing(&self) -> bool {
        !self.billing_url.is_empty()
    }
}

fn main() {}
