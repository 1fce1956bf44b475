//! `#[derive(HealthCheck)]`: turns the annotated fields of a service's state struct into
//! health checks. Not implemented yet (issue 5); this crate holds only its docs so far.
