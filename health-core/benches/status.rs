//! Placeholder; the criterion bench arrives with the probe-read measurements.
fn main() {}
