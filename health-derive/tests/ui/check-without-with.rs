use health_core::HealthCheck;

#[derive(HealthCheck)]
#[health(check(name = "billing", readiness))]
struct State {
    billing_url: String,
}

fn main() {}
