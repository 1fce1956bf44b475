//! Per-check metrics: what the runner and a slot's owner count on the write side, and the
//! owned snapshot that exporters read at scrape time. A probe read never touches them.
//!
//! # Storage and ordering
//!
//! Each slot holds one [`Counters`] block, allocated with the slot at registration and
//! cache-padded, so the runner's writes never share a cache line with what a probe read
//! loads. Every counter is a `Relaxed` statistic (see `sync::stats`: they publish nothing):
//!
//! - the run counts, the duration histogram, the consecutive failures and the time of the
//!   last run have one writer, the check's runner task, whose runs are sequential; it
//!   writes them with a load and a store, not a locked read-modify-write, which keeps the
//!   recording of a run to a few plain moves;
//! - the transition counts are written by the slot's owner (one at a time, see `slot.rs`)
//!   with `fetch_add`, since pushed checks may publish from any thread.
//!
//! A scrape reads each counter on its own: it may see a run counted under `runs` and not
//! yet in the histogram, never a count going backwards. That is the contract of the
//! Prometheus client libraries too, whose histograms are not snapshots either.

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::Timestamp;
use crate::status::Status;
use crate::sync::stats::{AtomicBool, AtomicU64, Ordering};

use super::slot::{CheckHandle, Source};
use super::view::CheckView;
use super::{RegistryBuilder, Slot};

/// The upper bounds (`le`) of the run-duration histogram, in nanoseconds.
///
/// Steps of 1, 2.5 and 5 per decade from 100 µs (an in-process check, a loopback connect)
/// to 10 s, then 30 s and 60 s for the longest intervals. Every timeout a probe budget
/// allows (the kubelet's default is 1 s) falls within the range, on a bound or between two
/// at most 2.5× apart, so `histogram_quantile` can tell a p99 at 80% of the timeout from
/// one at 20%.
const BOUNDS: [u64; BUCKETS] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
];

/// The number of finite buckets of the run-duration histogram.
const BUCKETS: usize = 18;

/// The upper bounds of the run-duration histogram (`check_duration_seconds`): a run lands
/// in the first bucket whose bound it does not exceed, or in the overflow (`+Inf`) bucket
/// past the last.
///
/// 100 µs, 250 µs, 500 µs, 1 ms, 2.5 ms, 5 ms, … 5 s, 10 s, 30 s, 60 s: steps of 1, 2.5 and 5
/// per decade from an in-process check to the longest timeouts, so that the p99 of a
/// check is resolved wherever its timeout lies.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::DURATION_BUCKETS;
///
/// assert_eq!(DURATION_BUCKETS[0], Duration::from_micros(100));
/// assert!(DURATION_BUCKETS.contains(&Duration::from_secs(1)));
/// assert_eq!(DURATION_BUCKETS.last(), Some(&Duration::from_secs(60)));
/// ```
pub const DURATION_BUCKETS: [Duration; BUCKETS] = {
    let mut bounds = [Duration::ZERO; BUCKETS];
    let mut index = 0;
    while index < BUCKETS {
        bounds[index] = Duration::from_nanos(BOUNDS[index]);
        index += 1;
    }
    bounds
};

/// How one run of a scheduled check ended: the `result` label of `check_runs_total`.
///
/// A timeout and a panic publish Unhealthy like a plain failure, and are counted apart
/// from it.
///
/// # Examples
///
/// ```
/// use health_core::RunResult;
///
/// assert_eq!(RunResult::Timeout.as_str(), "timeout");
/// assert!(RunResult::Panic.is_failure() && !RunResult::Degraded.is_failure());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunResult {
    /// The check returned Healthy.
    Healthy,
    /// The check returned Degraded.
    Degraded,
    /// The check returned Unhealthy.
    Unhealthy,
    /// The run was cut at its deadline (the runner's, or the check's own through
    /// [`Report::timed_out`](crate::Report::timed_out)).
    Timeout,
    /// The check panicked.
    Panic,
    /// The check returned Unknown: it could not tell.
    Unknown,
}

impl RunResult {
    /// Every result, in the order exporters list them.
    pub const ALL: [RunResult; 6] = [
        RunResult::Healthy,
        RunResult::Degraded,
        RunResult::Unhealthy,
        RunResult::Timeout,
        RunResult::Panic,
        RunResult::Unknown,
    ];

    /// Returns the label value: `healthy`, `degraded`, `unhealthy`, `timeout`, `panic` or
    /// `unknown`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::RunResult::Panic.as_str(), "panic");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RunResult::Healthy => "healthy",
            RunResult::Degraded => "degraded",
            RunResult::Unhealthy => "unhealthy",
            RunResult::Timeout => "timeout",
            RunResult::Panic => "panic",
            RunResult::Unknown => "unknown",
        }
    }

    /// Returns `true` for the results that publish Unhealthy: `unhealthy`, `timeout` and
    /// `panic`. They are what `check_consecutive_failures` counts.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::RunResult::Timeout.is_failure());
    /// ```
    #[must_use]
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            RunResult::Unhealthy | RunResult::Timeout | RunResult::Panic
        )
    }

    #[cfg(feature = "runtime")]
    fn of(report: &crate::report::Report) -> RunResult {
        use crate::report::Ending;
        match (report.ending(), report.status()) {
            (Ending::TimedOut, _) => RunResult::Timeout,
            (Ending::Panicked, _) => RunResult::Panic,
            (Ending::Returned, Status::Healthy) => RunResult::Healthy,
            (Ending::Returned, Status::Degraded) => RunResult::Degraded,
            (Ending::Returned, Status::Unhealthy) => RunResult::Unhealthy,
            (Ending::Returned, Status::Unknown) => RunResult::Unknown,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's counters; see the module docs.
pub(super) struct Counters {
    /// Off when the registry was built with `record_metrics(false)`.
    enabled: AtomicBool,
    /// The runner's timeout for this check, in nanoseconds; zero until it is scheduled.
    timeout: AtomicU64,
    runs: [AtomicU64; RunResult::ALL.len()],
    /// Not cumulative: a run adds to one bucket; the last one is the overflow.
    buckets: [AtomicU64; BUCKETS + 1],
    /// Total run time, in nanoseconds (584 years before it wraps).
    sum: AtomicU64,
    consecutive_failures: AtomicU64,
    /// When the last run ended, in clock nanoseconds.
    last_run: AtomicU64,
    /// Indexed `from * 4 + to` by status bits.
    transitions: [AtomicU64; 16],
}

impl Counters {
    pub(super) fn new(enabled: bool) -> CachePadded<Counters> {
        let zero = || AtomicU64::new(0);
        CachePadded::new(Counters {
            enabled: AtomicBool::new(enabled),
            timeout: zero(),
            runs: std::array::from_fn(|_| zero()),
            buckets: std::array::from_fn(|_| zero()),
            sum: zero(),
            consecutive_failures: zero(),
            last_run: zero(),
            transitions: std::array::from_fn(|_| zero()),
        })
    }

    fn enabled(&self) -> bool {
        // Ordering: Relaxed; a statistic's switch, set before the registry is shared.
        self.enabled.load(Ordering::Relaxed)
    }

    /// Counts one applied transition. Only the slot's owner calls this.
    pub(super) fn transition(&self, from: Status, to: Status) {
        if self.enabled() {
            let index = usize::from(from.to_bits()) * 4 + usize::from(to.to_bits());
            // Ordering: Relaxed; a statistic. An RMW because owners follow one another
            // on any thread.
            self.transitions[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one run. Only the check's runner task calls this, one run at a time.
    #[cfg(feature = "runtime")]
    fn run(&self, result: RunResult, elapsed: Duration, now: impl FnOnce() -> Timestamp) {
        if !self.enabled() {
            return;
        }
        let nanos = crate::clock::duration_nanos(elapsed);
        // Ordering (every access below): Relaxed; statistics with a single writer, so a
        // load and a store lose no count, and a reader sees each value whole.
        let bump = |counter: &AtomicU64, by: u64| {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(by),
                Ordering::Relaxed,
            );
        };
        bump(&self.runs[result.index()], 1);
        bump(
            &self.buckets[BOUNDS.partition_point(|&bound| bound < nanos)],
            1,
        );
        bump(&self.sum, nanos);
        if result.is_failure() {
            bump(&self.consecutive_failures, 1);
        } else {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
        self.last_run.store(now().as_nanos(), Ordering::Relaxed);
    }

    fn snapshot(&self, transitions_counted: bool) -> Option<CheckMetrics> {
        if !self.enabled() {
            return None;
        }
        // Ordering (every load): Relaxed; see the module docs for what a scrape sees.
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let runs = self.runs.each_ref().map(load);
        let timeout = load(&self.timeout);
        Some(CheckMetrics {
            runs,
            buckets: self.buckets.each_ref().map(load),
            sum: Duration::from_nanos(load(&self.sum)),
            consecutive_failures: load(&self.consecutive_failures),
            last_run: (runs.iter().any(|&count| count > 0))
                .then(|| Timestamp::from_nanos(load(&self.last_run))),
            timeout: (timeout > 0).then(|| Duration::from_nanos(timeout)),
            transitions: transitions_counted.then(|| self.transitions.each_ref().map(load)),
        })
    }
}

impl CheckHandle {
    /// Records one run of the check: its result, how long it took, and now as the time of
    /// the last run. The runner calls this once per run, before publishing its report.
    #[cfg(feature = "runtime")]
    pub(crate) fn record_run(&self, report: &crate::report::Report, elapsed: Duration) {
        self.slot
            .metrics
            .run(RunResult::of(report), elapsed, || self.shared.clock.now());
    }

    /// Marks the check as run by the runner, with `timeout`.
    #[cfg(feature = "runtime")]
    pub(crate) fn record_schedule(&self, timeout: Duration) {
        // Ordering: Relaxed; set before the registry is built, published with it.
        self.slot.metrics.timeout.store(
            crate::clock::duration_nanos(timeout).max(1),
            Ordering::Relaxed,
        );
    }
}

impl RegistryBuilder {
    /// Sets whether the registry records metrics (the default) for every check, added
    /// before or after this call.
    ///
    /// Recording costs each run a few plain stores and each transition one atomic add, on
    /// the write side only: probe reads are the same either way. Without it, exporters
    /// show only the current statuses, and [`CheckView::metrics`] returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry};
    ///
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// builder.record_metrics(false);
    /// let registry = builder.build();
    /// assert!(registry.check("db").unwrap().metrics().is_none());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn record_metrics(&mut self, record: bool) -> &mut RegistryBuilder {
        self.record_metrics = record;
        for slot in &self.slots {
            // Ordering: Relaxed; see `Counters::enabled`.
            slot.metrics.enabled.store(record, Ordering::Relaxed);
        }
        self
    }
}

impl Slot {
    /// Whether this check's transitions are counted: a heartbeat's status is judged when
    /// read and never published, so it has none to count. (A gate publishes Healthy when
    /// it opens: that one transition counts.)
    fn counts_transitions(&self) -> bool {
        !matches!(self.source, Source::Heartbeat(_))
    }
}

impl CheckView<'_> {
    /// Returns the check's metrics now, or `None` if the registry records none (see
    /// [`RegistryBuilder::record_metrics`]).
    ///
    /// Each value is read on its own, with no lock: a run in progress may show in one
    /// count and not yet in another, as in every Prometheus client.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry, Status};
    ///
    /// let mut builder = Registry::builder();
    /// let db = builder.push(CheckSpec::new("db").readiness())?;
    /// let registry = builder.build();
    /// db.unhealthy("connection refused");
    /// db.healthy();
    /// let metrics = registry.check("db").unwrap().metrics().unwrap();
    /// assert_eq!(metrics.transitions(Status::Unhealthy, Status::Healthy), Some(1));
    /// assert_eq!(metrics.runs_total(), 0); // pushed, not run by the runner
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn metrics(&self) -> Option<CheckMetrics> {
        self.slot.metrics.snapshot(self.slot.counts_transitions())
    }
}

/// One check's metrics at one moment, owned: runs by result, the run-duration histogram,
/// transitions, consecutive failures, the last run's time and the configured timeout.
///
/// Runs (and what describes them) are counted by the runner for scheduled checks only;
/// transitions for every check whose status is published (pushed, scheduled, start-up
/// gates), not for heartbeats, whose status is judged when read. Writes that land while
/// another writer applies a report are coalesced into the newest (see
/// [`Registry`](crate::Registry)), and only the transitions actually applied are counted.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry, RunResult};
///
/// let mut builder = Registry::builder();
/// builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// let metrics = registry.check("db").unwrap().metrics().unwrap();
/// assert_eq!(metrics.runs(RunResult::Timeout), 0);
/// assert_eq!(metrics.last_run(), None);
/// assert_eq!(metrics.timeout(), None); // not scheduled
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckMetrics {
    runs: [u64; RunResult::ALL.len()],
    buckets: [u64; BUCKETS + 1],
    sum: Duration,
    consecutive_failures: u64,
    last_run: Option<Timestamp>,
    timeout: Option<Duration>,
    transitions: Option<[u64; 16]>,
}

impl CheckMetrics {
    /// Returns how many runs ended with `result`.
    ///
    /// # Examples
    ///
    /// See [`CheckMetrics`].
    #[must_use]
    pub fn runs(&self, result: RunResult) -> u64 {
        self.runs[result.index()]
    }

    /// Returns how many runs there were.
    ///
    /// # Examples
    ///
    /// See [`CheckView::metrics`].
    #[must_use]
    pub fn runs_total(&self) -> u64 {
        self.runs.iter().sum()
    }

    /// Returns how many runs fell in each bucket of [`DURATION_BUCKETS`], not cumulated,
    /// then how many took longer than the last bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, DURATION_BUCKETS, Registry};
    /// # let mut builder = Registry::builder();
    /// # builder.push(CheckSpec::new("db").readiness())?;
    /// # let registry = builder.build();
    /// let metrics = registry.check("db").unwrap().metrics().unwrap();
    /// assert_eq!(metrics.duration_buckets().len(), DURATION_BUCKETS.len() + 1);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn duration_buckets(&self) -> &[u64] {
        &self.buckets
    }

    /// Returns the total time of all runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut builder = health_core::Registry::builder();
    /// # builder.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = builder.build();
    /// let metrics = registry.check("db").unwrap().metrics().unwrap();
    /// assert!(metrics.duration_sum().is_zero());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn duration_sum(&self) -> Duration {
        self.sum
    }

    /// Returns how many transitions from `from` to `to` were applied, or `None` for a
    /// heartbeat (judged when read, it publishes none).
    ///
    /// # Examples
    ///
    /// See [`CheckView::metrics`].
    #[must_use]
    pub fn transitions(&self, from: Status, to: Status) -> Option<u64> {
        let index = usize::from(from.to_bits()) * 4 + usize::from(to.to_bits());
        self.transitions.map(|counts| counts[index])
    }

    /// Returns how many runs in a row have failed (Unhealthy, timed out or panicked) up to
    /// the last one; zero after a run that passed.
    ///
    /// This counts runs, before any `failure_threshold` holds a result back: with a
    /// threshold of 3, the check turns Unhealthy when this reaches 3.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut builder = health_core::Registry::builder();
    /// # builder.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = builder.build();
    /// assert_eq!(registry.check("db").unwrap().metrics().unwrap().consecutive_failures(), 0);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn consecutive_failures(&self) -> u64 {
        self.consecutive_failures
    }

    /// Returns when the last run ended, on the registry's clock (see
    /// [`Clock::to_system_time`](crate::Clock::to_system_time)), or `None` before the
    /// first run.
    ///
    /// # Examples
    ///
    /// See [`CheckMetrics`].
    #[must_use]
    pub fn last_run(&self) -> Option<Timestamp> {
        self.last_run
    }

    /// Returns the runner's timeout for the check, or `None` if the runner does not run
    /// it (a pushed check, a heartbeat, a gate).
    ///
    /// # Examples
    ///
    /// See [`CheckMetrics`].
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}
