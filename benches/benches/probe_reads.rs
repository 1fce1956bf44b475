//! `probe_reads/<impl>/<scenario>`: the cost of one readiness read, per design.
//!
//! Scenarios:
//! - `idle`: 8 checks, one thread, nobody writing.
//! - `many`: 1,024 checks, one thread, nobody writing.
//! - `contended`: 8 checks, 2 reader threads and a writer flipping a status without pause;
//!   the time is per read, per reader (the slower reader's). After each contender's
//!   `contended`, the writer's throughput (writes/s, the median over criterion's samples)
//!   is printed next to it: a design could read fast by starving its writer.
//!
//! The `floor` contender is one `Acquire` load of one `AtomicU64` behind `black_box`: the
//! physical limit of a read on the machine at hand, so every figure is also a ratio to it,
//! measured in the same run. `rwlock-counters` keeps O(1) counts under an `RwLock`, like
//! health-core without the lock-free protocol: it separates the algorithm's win from the
//! synchronisation's.
//!
//! Every design is a [`Contender`]; adding one is an `impl Contender` (a newtype around it is
//! fine) and one line in [`probe_reads`].
//!
//! `contended` runs three busy threads: on a 2-core machine they share the cores, so a lock
//! holder can be descheduled and the others wait. That is part of what the scenario measures,
//! for every design alike.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use health_benches::arcswap_hashmap::ArcSwapHashMap;
use health_benches::floor::Floor;
use health_benches::load::nearest_rank;
use health_benches::mutex_hashmap::MutexHashMap;
use health_benches::rwlock_counters::RwLockCounters;
use health_benches::rwlock_hashmap::RwLockHashMap;
use health_benches::{Contender, Outcome, Status};

/// Checks in `idle` and `contended`: a typical service's dependencies.
const FEW_CHECKS: usize = 8;
/// Checks in `many`: far more than any service has, to show how the read scales.
const MANY_CHECKS: usize = 1024;
/// Reader threads in `contended`.
const READERS: usize = 2;

fn probe_reads(c: &mut Criterion) {
    contender::<Floor>(c, "floor");
    contender::<HealthCore>(c, "health-core");
    contender::<RwLockCounters>(c, "rwlock-counters");
    contender::<RwLockHashMap>(c, "rwlock-hashmap");
    contender::<MutexHashMap>(c, "mutex-hashmap");
    contender::<ArcSwapHashMap>(c, "arcswap-hashmap");
}

/// Benchmarks the three scenarios for `C`, as `probe_reads/{name}/{scenario}`.
fn contender<C: Contender>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(format!("probe_reads/{name}"));
    for (scenario, n) in [("idle", FEW_CHECKS), ("many", MANY_CHECKS)] {
        let checks = C::new(n);
        group.bench_function(scenario, |b| {
            b.iter(|| black_box(&checks).aggregate());
        });
    }
    group.bench_function("contended", |b| b.iter_custom(contended::<C>));
    group.finish();
    let mut rates = std::mem::take(&mut *WRITER_RATES.lock().expect("no sample panics"));
    rates.sort_by(f64::total_cmp);
    if let Some(median) = nearest_rank(rates.len(), 500).map(|index| rates[index]) {
        println!(
            "probe_reads/{name}/contended: writer {:.2} M writes/s (median of {} samples)",
            median / 1e6,
            rates.len()
        );
    }
}

/// The writer's writes per second in each `contended` sample of the current contender.
static WRITER_RATES: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// Times `iters` reads on each of [`READERS`] threads while another thread flips check 0, and
/// returns the slower reader's time.
///
/// The writer flips between `Pass` and `Warn`, never `Fail`, so that every read walks all the
/// checks, as in the other scenarios. Threads are started per sample and released together by
/// a barrier; only the readers' loops are timed.
fn contended<C: Contender>(iters: u64) -> Duration {
    let checks = C::new(FEW_CHECKS);
    let stop = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    let start = Barrier::new(READERS + 1);
    thread::scope(|s| {
        let writer = s.spawn(|| {
            start.wait();
            let started = Instant::now();
            let mut status = Status::Pass;
            let mut count = 0_u64;
            // Ordering: Relaxed; the flag only says "stop soon" and guards no data.
            while !stop.load(Ordering::Relaxed) {
                status = if status == Status::Pass {
                    Status::Warn
                } else {
                    Status::Pass
                };
                checks.set(0, status);
                count += 1;
            }
            // Ordering: Relaxed; read after the join.
            written.store(count, Ordering::Relaxed);
            started.elapsed()
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(black_box(&checks).aggregate());
                    }
                    started.elapsed()
                })
            })
            .collect();
        let slowest = readers
            .into_iter()
            .map(|reader| reader.join().expect("readers do not panic"))
            .max()
            .unwrap_or_default();
        // Ordering: Relaxed; see the load.
        stop.store(true, Ordering::Relaxed);
        let elapsed = writer.join().expect("the writer does not panic");
        // Ordering: Relaxed; the join orders the store before this load.
        let count = written.load(Ordering::Relaxed);
        #[allow(
            clippy::cast_precision_loss,
            reason = "a rate: 2^52 writes are far away"
        )]
        let rate = count as f64 / elapsed.as_secs_f64();
        WRITER_RATES.lock().expect("no sample panics").push(rate);
        slowest
    })
}

criterion_group!(benches, probe_reads);
criterion_main!(benches);

/// health-core's registry with `n` readiness checks, as a `probe_reads` contender.
struct HealthCore {
    registry: health_core::Registry,
    checks: Vec<health_core::CheckHandle>,
}

impl Contender for HealthCore {
    fn new(n: usize) -> Self {
        let mut builder = health_core::Registry::builder();
        let checks: Vec<_> = (0..n)
            .map(|i| {
                let spec = health_core::CheckSpec::new(format!("check-{i}")).readiness();
                builder.push(spec).expect("names are valid and distinct")
            })
            .collect();
        // Checks start Unknown, which fails readiness; the other contenders start at Pass.
        for check in &checks {
            check.healthy();
        }
        Self {
            registry: builder.build(),
            checks,
        }
    }

    fn set(&self, i: usize, status: Status) {
        match status {
            Status::Pass => self.checks[i].healthy(),
            Status::Warn => self.checks[i].degraded("flipped"),
            Status::Fail => self.checks[i].unhealthy("flipped"),
        }
    }

    fn aggregate(&self) -> Outcome {
        match self.registry.probe(health_core::Probe::Readiness) {
            health_core::Outcome::Pass => Status::Pass,
            health_core::Outcome::Warn => Status::Warn,
            health_core::Outcome::Fail => Status::Fail,
        }
    }
}
