//! Serves `health-core` probes over HTTP with Kubernetes conventions. Not implemented yet
//! (issue 6); this crate holds only its docs so far.
