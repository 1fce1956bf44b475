use health_core::HealthCheck;

#[derive(HealthCheck)]
enum State {
    Starting,
    Serving,
}

fn main() {}
