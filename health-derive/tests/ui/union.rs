use health_core::HealthCheck;

#[derive(HealthCheck)]
union State {
    a: u32,
    b: f32,
}

fn main() {}
