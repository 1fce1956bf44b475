//! Probe-read cost: `cargo bench -p health-core --bench status`.
//!
//! - `probe/pushed/{8,1024}`: readiness over N pushed checks: one load of the probe's word;
//! - `probe/timed/{8,1024}`: the same plus one heartbeat: one clock read, then the probe's
//!   deadline and word (one cache line), never a scan of the checks;
//! - `probe_at/timed/{8,1024}`: the caller passes `now`, no clock read;
//! - `clock/system`: one clock read alone, for reference;
//! - `publish/same`: `healthy()` on a Healthy check: the owner's turn with no transition
//!   (three RMWs on the slot, a clock read, the stamp);
//! - `publish/flip`: `degraded(..)` and `healthy()` in turn: a transition every call (a
//!   report allocated every other call, the word moved, a tracing event, subscribers
//!   notified: version bump, `SeqCst` fence, the subscriber list).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use health_core::{CheckSpec, Clock, Heartbeat, Outcome, Probe, Registry};

fn registry(checks: usize, heartbeat: Option<&Heartbeat>) -> Registry {
    let mut builder = Registry::builder();
    for i in 0..checks {
        builder
            .push(CheckSpec::new(format!("check-{i}")).readiness())
            .expect("valid names")
            .healthy();
    }
    if let Some(heartbeat) = heartbeat {
        builder
            .heartbeat(
                CheckSpec::new("worker")
                    .readiness()
                    .max_age(Duration::from_hours(1)),
                heartbeat,
            )
            .expect("valid heartbeat");
    }
    let registry = builder.build();
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    registry
}

fn probes(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    for checks in [8, 1024] {
        let pushed = registry(checks, None);
        group.bench_with_input(BenchmarkId::new("pushed", checks), &pushed, |b, r| {
            b.iter(|| black_box(r).probe(Probe::Readiness));
        });
        let heartbeat = Heartbeat::new();
        let timed = registry(checks, Some(&heartbeat));
        group.bench_with_input(BenchmarkId::new("timed", checks), &timed, |b, r| {
            b.iter(|| black_box(r).probe(Probe::Readiness));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("probe_at");
    for checks in [8, 1024] {
        let heartbeat = Heartbeat::new();
        let timed = registry(checks, Some(&heartbeat));
        let now = timed.now();
        group.bench_with_input(BenchmarkId::new("timed", checks), &timed, |b, r| {
            b.iter(|| black_box(r).probe_at(Probe::Readiness, black_box(now)));
        });
    }
    group.finish();

    let clock = Clock::system();
    c.bench_function("clock/system", |b| b.iter(|| black_box(&clock).now()));

    let mut group = c.benchmark_group("publish");
    let mut builder = Registry::builder();
    let db = builder
        .push(CheckSpec::new("db").readiness())
        .expect("a valid name");
    let _registry = builder.build();
    db.healthy();
    group.bench_function("same", |b| b.iter(|| black_box(&db).healthy()));
    let mut up = false;
    group.bench_function("flip", |b| {
        b.iter(|| {
            up = !up;
            if up {
                black_box(&db).healthy();
            } else {
                black_box(&db).degraded("slow");
            }
        });
    });
    group.finish();
}

criterion_group!(benches, probes);
criterion_main!(benches);
