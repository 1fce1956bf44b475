//! Transitions are traced: one event per change of status, with check, from, to and
//! reason; and a subscriber that panics in an event freezes no check.
//!
//! In a test binary of their own, each test under a scoped subscriber: tracing caches each
//! call site's interest process-wide, and a test on another thread that reaches a call
//! site first, with no subscriber, can race the registration of a test's scoped subscriber
//! and leave the site disabled.

#![cfg(not(loom))]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use health_core::{CheckSpec, Outcome, Probe, Registry, Status};

/// A subscriber that hands every event to its function.
struct OnEvent<F>(F);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<F: Fn(&tracing::Event<'_>) + 'static> tracing::Subscriber for OnEvent<F> {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        (self.0)(event);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn transitions_are_traced_with_check_from_to_and_reason() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let collect = {
        let events = Arc::clone(&events);
        OnEvent(move |event: &tracing::Event<'_>| {
            let mut fields = Fields(format!("{} ", event.metadata().level()));
            event.record(&mut fields);
            events.lock().unwrap().push(fields.0);
        })
    };
    tracing::subscriber::with_default(collect, || {
        let mut builder = Registry::builder();
        let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
        let _registry = builder.build();
        db.healthy();
        db.healthy(); // no transition, no event
        db.unhealthy("connection refused");
    });
    let events = events.lock().unwrap();
    let transitions: Vec<_> = events
        .iter()
        .filter(|e| e.contains("check transition"))
        .collect();
    assert_eq!(
        transitions.len(),
        2,
        "one event per transition, none for a repeat: {events:?}"
    );
    assert!(
        transitions[0].starts_with("INFO") && transitions[0].contains("from=unknown to=healthy")
    );
    assert!(
        transitions[1].starts_with("WARN")
            && transitions[1].contains("check=db")
            && transitions[1].contains("to=unhealthy")
            && transitions[1].contains("reason=\"connection refused\""),
        "{}",
        transitions[1]
    );
}

#[test]
fn a_panicking_tracing_subscriber_freezes_no_check() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();

    let buggy = OnEvent(|_: &tracing::Event<'_>| panic!("a tracing subscriber with a bug"));
    let write = tracing::subscriber::with_default(buggy, || {
        catch_unwind(AssertUnwindSafe(|| db.unhealthy("connection refused")))
    });
    assert!(write.is_err(), "the subscriber's panic reaches the writer");
    assert_eq!(
        db.status(),
        Status::Unhealthy,
        "the write applied before the event"
    );
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);

    db.healthy();
    assert_eq!(db.status(), Status::Healthy, "a later write still applies");
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
}
