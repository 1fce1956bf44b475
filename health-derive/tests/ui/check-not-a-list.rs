use health_core::HealthCheck;

#[derive(HealthCheck)]
#[health(check = "billing")]
struct State {
    billing_url: String,
}

fn main() {}
