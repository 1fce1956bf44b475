//! Metrics on against metrics off, both measured in the same run:
//! `cargo bench -p health-core --features runtime --bench metrics`.
//!
//! "Off" is a registry built with `record_metrics(false)`; "on" is the default. The two
//! sides of each comparison are built the same way and measured one after the other.
//!
//! - `probe/{off,on}/{8,1024}`: a readiness read over N pushed checks that each went
//!   Unknown → Unhealthy → Healthy (so "on" holds counted transitions). The goal: on ÷ off
//!   ≤ 1.05. `probe/interleaved/N` times both sides in alternating blocks and prints
//!   that ratio: the shared machine's noise then falls on both alike.
//! - `probe_busy/{off,on}`: the same read over 8 checks while another thread flips one
//!   check of each registry in turn between Healthy and Degraded without pause (counting
//!   each transition when on): the reader meets the writer's cache traffic, the same for
//!   both sides; `probe_busy/interleaved` prints the ratio.
//! - `run/{off,on}`: one check run on the runner, per run: 256 checks every second on a
//!   paused current-thread runtime, each iteration one virtual second, so every check
//!   runs once; the time is divided by 256. on − off is what recording costs a run (the
//!   goal: ≤ 100 ns); `run/interleaved` alternates the two sides second by second and
//!   prints that difference.
//! - `publish/{off,on}`: one `degraded()` then `healthy()` through a handle, two
//!   transitions, counted when on; `publish/interleaved` prints the difference.
//! - `scrape/{8,1024}`: one `/metrics` body, `PrometheusCollector` encoded as OpenMetrics
//!   text, for N scheduled checks that have run: what a scrape costs, off the probe path.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use health_core::{
    CheckHandle, CheckSpec, Outcome, Probe, PrometheusCollector, Registry, Runner, Schedule,
    check_fn,
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

/// Reads per timed block of [`interleaved`]: long enough (~6 µs) that the two clock
/// reads around it weigh 0.3%.
const BLOCK: u64 = 10_000;

/// Times `off` and `on` (one operation each) in alternating blocks, so that both sides
/// meet the same moments of a shared machine, each side first every other block;
/// criterion reports `on`, and the two sides' totals (the goals' figures: their ratio,
/// their difference per operation) are printed when the bench ends.
fn interleaved(
    group: &mut BenchmarkGroup<'_, WallTime>,
    (group_name, id): (&str, &str),
    block: u64,
    off: impl Fn(),
    on: impl Fn(),
) {
    let totals = Cell::new((Duration::ZERO, Duration::ZERO, 0_u64));
    group.bench_function(id, |b| {
        b.iter_custom(|iterations| {
            let mut on_time = Duration::ZERO;
            let mut left = iterations;
            let mut on_first = false;
            while left > 0 {
                let operations = left.min(block);
                left -= operations;
                let (off_time, block_time) = if on_first {
                    let block_time = time(&on, operations);
                    (time(&off, operations), block_time)
                } else {
                    (time(&off, operations), time(&on, operations))
                };
                on_first = !on_first;
                on_time += block_time;
                let (off_total, on_total, count) = totals.get();
                totals.set((
                    off_total + off_time,
                    on_total + block_time,
                    count + operations,
                ));
            }
            on_time
        });
    });
    let (off_total, on_total, count) = totals.get();
    let (off_ns, on_ns) = (off_total.as_secs_f64() * 1e9, on_total.as_secs_f64() * 1e9);
    #[allow(clippy::cast_precision_loss)] // operation counts stay far below 2^53
    let count_f64 = count as f64;
    println!(
        "{group_name}/{id}: metrics on ÷ off = {:.3}, on − off = {:.2} ns per operation \
         (alternating blocks of {block}; {count} operations a side: off {off_total:?}, on {on_total:?})",
        on_ns / off_ns,
        (on_ns - off_ns) / count_f64,
    );
}

/// Times `operations` calls of `operation`: generic, so each side's loop is compiled
/// (and inlined) on its own, with no indirect call in it.
fn time<F: Fn()>(operation: &F, operations: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..operations {
        operation();
    }
    start.elapsed()
}

fn read(registry: &Registry) -> impl Fn() + '_ {
    move || {
        black_box(black_box(registry).probe(Probe::Readiness));
    }
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
        let (off, _off_handles) = registry(checks, false);
        let (on, _on_handles) = registry(checks, true);
        let id = format!("interleaved/{checks}");
        interleaved(&mut group, ("probe", &id), BLOCK, read(&off), read(&on));
    }
    group.finish();
}

fn probe_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe_busy");
    let (off, off_handles) = registry(8, false);
    let (on, on_handles) = registry(8, true);
    // One writer for both sides, flipping each in turn, so both are read under the same
    // write traffic, whatever else the machine runs meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        let flipped = [off_handles[0].clone(), on_handles[0].clone()];
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for handle in &flipped {
                    handle.degraded("slow");
                    handle.healthy();
                }
            }
        })
    };
    for (side, registry) in [("off", &off), ("on", &on)] {
        group.bench_with_input(BenchmarkId::from_parameter(side), registry, |b, r| {
            b.iter(|| black_box(r).probe(Probe::Readiness));
        });
    }
    interleaved(
        &mut group,
        ("probe_busy", "interleaved"),
        BLOCK,
        read(&off),
        read(&on),
    );
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    group.finish();
}

/// Checks per runner in `run/*`, all due at the same virtual instants.
const RUNNING: u32 = 256;
const INTERVAL: Duration = Duration::from_secs(1);

/// A paused current-thread runtime running `checks` trivial checks every [`INTERVAL`],
/// recording metrics or not, each having run twice already.
struct Running {
    runtime: tokio::runtime::Runtime,
    registry: Registry,
    _runner: Runner,
}

impl Running {
    fn new(checks: u32, record: bool) -> Running {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (registry, runner) = runtime.block_on(async {
            let mut builder = Registry::builder();
            builder.record_metrics(record);
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
        let running = Running {
            runtime,
            registry,
            _runner: runner,
        };
        running.second();
        running.second();
        running
    }

    /// One virtual second: every check runs once. Returns how long that took.
    fn second(&self) -> Duration {
        let start = Instant::now();
        self.runtime
            .block_on(async { tokio::time::sleep(INTERVAL).await });
        start.elapsed()
    }

    fn runs(&self) -> Option<u64> {
        let metrics = self.registry.check("check-0")?.metrics()?;
        Some(metrics.runs_total())
    }
}

fn run(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    let off = Running::new(RUNNING, false);
    let on = Running::new(RUNNING, true);
    for (side, running) in [("off", &off), ("on", &on)] {
        group.bench_function(side, |b| {
            b.iter_custom(|seconds| {
                (0..seconds).map(|_| running.second()).sum::<Duration>() / RUNNING
            });
        });
    }
    // Both sides in alternating virtual seconds (each first every other one), so the
    // machine's noise falls on both alike: criterion reports `on` per run, and the
    // difference per run is printed.
    let totals = Cell::new((Duration::ZERO, Duration::ZERO, 0_u32));
    group.bench_function("interleaved", |b| {
        b.iter_custom(|seconds| {
            let mut on_time = Duration::ZERO;
            for second in 0..seconds {
                let (off_time, on_second) = if second % 2 == 0 {
                    (off.second(), on.second())
                } else {
                    let on_second = on.second();
                    (off.second(), on_second)
                };
                on_time += on_second;
                let (off_total, on_total, runs) = totals.get();
                totals.set((
                    off_total + off_time,
                    on_total + on_second,
                    runs.saturating_add(RUNNING),
                ));
            }
            on_time / RUNNING
        });
    });
    let (off_total, on_total, runs) = totals.get();
    let extra = (on_total.as_secs_f64() - off_total.as_secs_f64()) * 1e9 / f64::from(runs.max(1));
    println!(
        "run/interleaved: recording costs a run {extra:.1} ns (on ÷ off = {:.3}; {runs} runs a side: off {off_total:?}, on {on_total:?})",
        on_total.as_secs_f64() / off_total.as_secs_f64(),
    );
    assert_eq!(off.runs(), None, "off counts nothing");
    // Every check has run twice when built; the group, unless filtered out, adds more.
    assert!(
        on.runs().is_some_and(|runs| runs >= 2),
        "on counts every run"
    );
    group.finish();
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    let (_off_registry, off) = registry(1, false);
    let (_on_registry, on) = registry(1, true);
    let flip = |handle: &CheckHandle| {
        handle.degraded("slow");
        handle.healthy();
    };
    for (side, handles) in [("off", &off), ("on", &on)] {
        group.bench_function(side, |b| b.iter(|| flip(&handles[0])));
    }
    interleaved(
        &mut group,
        ("publish", "interleaved"),
        1_000,
        || flip(&off[0]),
        || flip(&on[0]),
    );
    group.finish();
}

fn scrape(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrape");
    for checks in [8, 1024] {
        let running = Running::new(checks, true);
        let mut metrics = prometheus_client::registry::Registry::default();
        metrics.register_collector(Box::new(PrometheusCollector::new(&running.registry)));
        group.bench_with_input(BenchmarkId::from_parameter(checks), &metrics, |b, m| {
            b.iter(|| {
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, m).unwrap();
                text
            });
        });
    }
    group.finish();
}

criterion_group!(benches, probe, probe_busy, run, publish, scrape);
criterion_main!(benches);
