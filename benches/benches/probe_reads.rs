//! `probe_reads/<impl>/<scenario>`: the cost of one readiness read, per design.
//!
//! Scenarios:
//! - `idle`: 8 checks, one thread, nobody writing.
//! - `many`: 1,024 checks, one thread, nobody writing.
//! - `contended`: 8 checks, 2 reader threads and a writer flipping a status without pause;
//!   the time is per read, per reader (the slower reader's).
//!
//! Every design is a [`Contender`]; adding one is an `impl Contender` (a newtype around it is
//! fine) and one line in [`probe_reads`].
//!
//! `contended` runs three busy threads: on a 2-core machine they share the cores, so a lock
//! holder can be descheduled and the others wait. That is part of what the scenario measures,
//! for every design alike.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use health_benches::arcswap_hashmap::ArcSwapHashMap;
use health_benches::mutex_hashmap::MutexHashMap;
use health_benches::rwlock_hashmap::RwLockHashMap;
use health_benches::{Contender, Outcome, Status};

/// Checks in `idle` and `contended`: a typical service's dependencies.
const FEW_CHECKS: usize = 8;
/// Checks in `many`: far more than any service has, to show how the read scales.
const MANY_CHECKS: usize = 1024;
/// Reader threads in `contended`.
const READERS: usize = 2;

fn probe_reads(c: &mut Criterion) {
    contender::<HealthCore>(c, "health-core");
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
}

/// Times `iters` reads on each of [`READERS`] threads while another thread flips check 0, and
/// returns the slower reader's time.
///
/// The writer flips between `Pass` and `Warn`, never `Fail`, so that every read walks all the
/// checks, as in the other scenarios. Threads are started per sample and released together by
/// a barrier; only the readers' loops are timed.
fn contended<C: Contender>(iters: u64) -> Duration {
    let checks = C::new(FEW_CHECKS);
    let stop = AtomicBool::new(false);
    let start = Barrier::new(READERS + 1);
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            let mut status = Status::Pass;
            // Ordering: Relaxed; the flag only says "stop soon" and guards no data.
            while !stop.load(Ordering::Relaxed) {
                status = if status == Status::Pass {
                    Status::Warn
                } else {
                    Status::Pass
                };
                checks.set(0, status);
            }
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
