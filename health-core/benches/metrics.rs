//! Metrics on against metrics off, both measured in the same run:
//! `cargo bench -p health-core --features runtime --bench metrics`.
//!
//! "Off" is a registry built with `record_metrics(false)`; "on" is the default. The two
//! sides of each comparison are built the same way and measured one after the other.
//!
//! - `probe/{off,on}/{8,1024}`: a readiness read over N pushed checks that each went
//!   Unknown → Unhealthy → Healthy (so "on" holds counted transitions). The goal: on ÷ off
//!   ≤ 1.05.
//! - `probe_busy/{off,on}`: the same read over 8 checks while another thread flips one
//!   of them between Healthy and Degraded without pause (counting each transition when
//!   on): the reader meets the writer's cache traffic.
//! - `run/{off,on}`: one check run on the runner, per run: 256 checks every second on a
//!   paused current-thread runtime, each iteration one virtual second, so every check
//!   runs once; the time is divided by 256. on − off is what recording costs a run (the
//!   goal: ≤ 100 ns).
//! - `publish/{off,on}`: one `healthy()`/`degraded()` flip through a handle, the
//!   transition counted when on.
//! - `scrape/{8,1024}`: one `/metrics` body, `PrometheusCollector` encoded as OpenMetrics
//!   text, for N scheduled checks that have run: what a scrape costs, off the probe path.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use health_core::{
    CheckHandle, CheckSpec, Outcome, Probe, PrometheusCollector, Registry, Schedule, check_fn,
};

const SIDES: [(&str, bool); 2] = [("off", false), ("on", true)];

fn registry(checks: usize, record: bool) -> (Registry, Vec<CheckHandle>) {
    let mut builder = Registry::builder();
    builder.record_metrics(record);
    let handles: Vec<_> = (0..checks)
        .map(|i| {
            let spec = CheckSpec::new(format!("check-{i}")).readiness();
            builder.push(spec).expect("valid names")
        })
        .collect();
    let registry = builder.build();
    for handle in &handles {
        handle.unhealthy("down");
        handle.healthy();
    }
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    let counted = registry.check("check-0").and_then(|check| check.metrics());
    assert_eq!(counted.is_some(), record);
    (registry, handles)
}

fn probe(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    for checks in [8, 1024] {
        for (side, record) in SIDES {
            let (registry, _handles) = registry(checks, record);
            group.bench_with_input(BenchmarkId::new(side, checks), &registry, |b, r| {
                b.iter(|| black_box(r).probe(Probe::Readiness));
            });
        }
    }
    group.finish();
}

fn probe_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe_busy");
    for (side, record) in SIDES {
        let (registry, handles) = registry(8, record);
        let stop = Arc::new(AtomicBool::new(false));
        let flipper = {
            let (stop, handle) = (Arc::clone(&stop), handles[0].clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    handle.degraded("slow");
                    handle.healthy();
                }
            })
        };
        group.bench_with_input(BenchmarkId::from_parameter(side), &registry, |b, r| {
            b.iter(|| black_box(r).probe(Probe::Readiness));
        });
        stop.store(true, Ordering::Relaxed);
        flipper.join().unwrap();
    }
    group.finish();
}

/// Checks per runner, all due at the same virtual instants.
const RUNNING: u32 = 256;
const INTERVAL: Duration = Duration::from_secs(1);

fn run(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    for (side, record) in SIDES {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (registry, runner) = runtime.block_on(async {
            let mut builder = Registry::builder();
            builder.record_metrics(record);
            for i in 0..RUNNING {
                builder
                    .schedule(
                        CheckSpec::new(format!("check-{i}")).readiness(),
                        Schedule::every(INTERVAL).jitter(Duration::ZERO),
                        check_fn(|| async { true }),
                    )
                    .unwrap();
            }
            builder.spawn()
        });
        // Warm up: every check has run (and published) at least once.
        runtime.block_on(async { tokio::time::sleep(INTERVAL * 2).await });
        group.bench_function(side, |b| {
            b.iter_custom(|iterations| {
                let start = Instant::now();
                for _ in 0..iterations {
                    runtime.block_on(async { tokio::time::sleep(INTERVAL).await });
                }
                start.elapsed() / RUNNING
            });
        });
        let metrics = registry.check("check-0").and_then(|check| check.metrics());
        assert_eq!(
            metrics.map(|m| m.runs_total() > 2),
            record.then_some(true),
            "the runs were counted on, and only on"
        );
        drop(runner);
    }
    group.finish();
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    for (side, record) in SIDES {
        let (_registry, handles) = registry(1, record);
        let handle = &handles[0];
        group.bench_function(side, |b| {
            b.iter(|| {
                handle.degraded("slow");
                handle.healthy();
            });
        });
    }
    group.finish();
}

fn scrape(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrape");
    for checks in [8, 1024] {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (registry, runner) = runtime.block_on(async {
            let mut builder = Registry::builder();
            for i in 0..checks {
                builder
                    .schedule(
                        CheckSpec::new(format!("check-{i}")).readiness(),
                        Schedule::every(INTERVAL).jitter(Duration::ZERO),
                        check_fn(|| async { true }),
                    )
                    .unwrap();
            }
            builder.spawn()
        });
        runtime.block_on(async { tokio::time::sleep(INTERVAL * 2).await });
        let mut metrics = prometheus_client::registry::Registry::default();
        metrics.register_collector(Box::new(PrometheusCollector::new(&registry)));
        group.bench_with_input(BenchmarkId::from_parameter(checks), &metrics, |b, m| {
            b.iter(|| {
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, m).unwrap();
                text
            });
        });
        drop(runner);
    }
    group.finish();
}

criterion_group!(benches, probe, probe_busy, run, publish, scrape);
criterion_main!(benches);
