//! Transitions are traced: one event per change of status, with check, from, to and reason.
//!
//! Alone in its own test binary: tracing caches each call site's interest process-wide, and
//! a test on another thread that reaches a call site first, with no subscriber, can race
//! the registration of this test's scoped subscriber and leave the site disabled.

use health_core::{CheckSpec, Registry};

/// Collects the fields of every event, as `name=value` strings.
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<String>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for &'static Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn transitions_are_traced_with_check_from_to_and_reason() {
    let events: &'static Events = Box::leak(Box::default());
    tracing::subscriber::with_default(events, || {
        let mut builder = Registry::builder();
        let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
        let _registry = builder.build();
        db.healthy();
        db.healthy(); // no transition, no event
        db.unhealthy("connection refused");
    });
    let events = events.0.lock().unwrap();
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
