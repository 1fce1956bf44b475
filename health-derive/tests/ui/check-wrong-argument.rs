use health_core::HealthCheck;

// A struct-level check receives the whole state, not a field.
async fn ping_billing(url: &String) -> bool {
    !url.is_empty()
}

#[derive(HealthCheck)]
#[health(check(name = "billing", readiness, with = ping_billing))]
struct State {
    billing_url: String,
}

fn main() {}
