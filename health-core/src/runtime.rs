//! The background runner: one tokio task per evaluated check, with interval, timeout,
//! initial delay, jitter, thresholds and panic isolation. Feature `runtime`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::check::Check;
use crate::clock::format_duration;
use crate::registry::{CheckHandle, Registry, RegistryBuilder};
use crate::report::Report;
use crate::spec::{CheckSpec, RegistryError};
use crate::status::Status;

/// What a scheduled check's default `max_age` allows beyond interval and timeout, for
/// scheduling noise; a dead runner is then noticed within one interval plus this.
pub const MAX_AGE_SLACK: Duration = Duration::from_secs(1);

/// A run that takes longer than this share of its timeout logs a slow-check warning.
const SLOW_SHARE: f64 = 0.8;

/// When and how a check runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::Schedule;
///
/// let schedule = Schedule::every(Duration::from_secs(10))
///     .timeout(Duration::from_millis(500))
///     .failing_interval(Duration::from_secs(2))
///     .failure_threshold(3);
/// assert_eq!(schedule.default_max_age(), Duration::from_millis(11_500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    interval: Duration,
    timeout: Duration,
    initial_delay: Duration,
    jitter: Duration,
    failure_threshold: u32,
    success_threshold: u32,
    failing_interval: Option<Duration>,
}

impl Default for Schedule {
    /// Every 10 s with a 1 s timeout (the kubelet's default probe period and timeout).
    fn default() -> Self {
        Schedule::every(Duration::from_secs(10))
    }
}

impl Schedule {
    /// Runs every `interval`, with a 1 s timeout (at most the interval), no delay, no
    /// jitter, thresholds 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let schedule = health_core::Schedule::every(std::time::Duration::from_millis(200));
    /// assert_eq!(schedule.timeout_limit(), std::time::Duration::from_millis(200));
    /// ```
    #[must_use]
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            interval,
            timeout: interval.min(Duration::from_secs(1)),
            initial_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            failure_threshold: 1,
            success_threshold: 1,
            failing_interval: None,
        }
    }

    /// Sets the deadline of one run; the run's future is dropped when it passes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = health_core::Schedule::default().timeout(Duration::from_millis(300));
    /// assert_eq!(s.timeout_limit(), Duration::from_millis(300));
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Schedule {
        self.timeout = timeout;
        self
    }

    /// Sets the wait before the first run.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = health_core::Schedule::default().initial_delay(Duration::from_secs(5));
    /// assert_eq!(s.default_max_age(), Duration::from_secs(12));
    /// ```
    #[must_use]
    pub fn initial_delay(mut self, initial_delay: Duration) -> Schedule {
        self.initial_delay = initial_delay;
        self
    }

    /// Spreads the first run over `[0, jitter)` after the initial delay, by a hash of the
    /// runner's seed and the check's name: deterministic per replica, different across
    /// replicas with different seeds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = health_core::Schedule::default()
    ///     .initial_delay(Duration::from_secs(9))
    ///     .jitter(Duration::from_secs(2));
    /// assert_eq!(s.default_max_age(), Duration::from_secs(13)); // 9 + 2 + 1 + 1
    /// ```
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Schedule {
        self.jitter = jitter;
        self
    }

    /// Sets how many consecutive failures turn a passing check Unhealthy (default 1).
    /// Zero is treated as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = health_core::Schedule::default().failure_threshold(3);
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn failure_threshold(mut self, threshold: u32) -> Schedule {
        self.failure_threshold = threshold.max(1);
        self
    }

    /// Sets how many consecutive passes bring an Unhealthy check back (default 1). Zero
    /// is treated as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = health_core::Schedule::default().success_threshold(2);
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn success_threshold(mut self, threshold: u32) -> Schedule {
        self.success_threshold = threshold.max(1);
        self
    }

    /// Sets a shorter interval used while the last run failed, to notice recovery sooner.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = health_core::Schedule::default().failing_interval(Duration::from_secs(1));
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn failing_interval(mut self, interval: Duration) -> Schedule {
        self.failing_interval = Some(interval);
        self
    }

    /// Returns the interval.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(health_core::Schedule::default().interval(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Returns the timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(health_core::Schedule::default().timeout_limit(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn timeout_limit(&self) -> Duration {
        self.timeout
    }

    /// Returns the `max_age` used when the spec sets none: the longest gap between two
    /// results a live runner can produce, `max(interval, initial_delay + jitter) +
    /// timeout +` [`MAX_AGE_SLACK`]. Past it, the runner is dead or wedged and readiness
    /// fails with a stale reason.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(health_core::Schedule::default().default_max_age(), Duration::from_secs(12));
    /// ```
    #[must_use]
    pub fn default_max_age(&self) -> Duration {
        self.interval.max(self.initial_delay + self.jitter) + self.timeout + MAX_AGE_SLACK
    }

    /// The offset of the first run for a check named `name` under `seed`.
    fn jitter_offset(&self, seed: u64, name: &str) -> Duration {
        let jitter = crate::clock::duration_nanos(self.jitter);
        if jitter == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(fmix64(fnv1a(seed, name.as_bytes())) % jitter)
    }
}

/// FNV-1a over the seed's bytes then `bytes`: tiny, stable across releases and platforms,
/// which `std`'s `DefaultHasher` does not promise.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    seed.to_le_bytes()
        .iter()
        .chain(bytes)
        .fold(OFFSET, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// The 64-bit finaliser of `MurmurHash3`: every input bit flips each output bit with
/// probability about one half.
///
/// FNV-1a alone mixes its last bytes poorly: names that differ only at the end
/// (`shard-1`, `shard-2`, …) land in a few tight clusters once reduced modulo the jitter,
/// so one replica's checks would start together instead of spreading.
fn fmix64(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// Starts a scheduled check's task, given its jitter offset.
type StartTask = Box<dyn FnOnce(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A check waiting for [`RegistryBuilder::spawn`]: its task, not yet started.
pub(crate) struct Scheduled {
    name: String,
    start: StartTask,
    schedule: Schedule,
}

impl RegistryBuilder {
    /// Adds a check that the runner evaluates on `schedule`. Its `max_age` defaults to
    /// [`Schedule::default_max_age`], and its kind to `C::KIND`.
    ///
    /// # Errors
    ///
    /// As [`RegistryBuilder::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::{check_fn, CheckSpec, Registry, Schedule};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), health_core::RegistryError> {
    /// let mut builder = Registry::builder();
    /// builder.schedule(
    ///     CheckSpec::new("queue").readiness(),
    ///     Schedule::every(Duration::from_secs(5)).timeout(Duration::from_millis(500)),
    ///     check_fn(|| async { Ok::<(), std::io::Error>(()) }),
    /// )?;
    /// let (registry, runner) = builder.spawn();
    /// # drop((registry, runner)); Ok(()) }
    /// ```
    pub fn schedule<C: Check>(
        &mut self,
        spec: CheckSpec,
        schedule: Schedule,
        check: C,
    ) -> Result<(), RegistryError> {
        let max_age = spec.max_age.unwrap_or_else(|| schedule.default_max_age());
        let kind = if spec.kind == crate::CheckKind::Internal {
            C::KIND
        } else {
            spec.kind
        };
        let name = spec.name.clone();
        let handle = self.push(spec.max_age(max_age).kind(kind))?;
        self.scheduled.push(Scheduled {
            name,
            start: Box::new(move |offset| Box::pin(run(check, handle, schedule, offset))),
            schedule,
        });
        Ok(())
    }

    /// Sets the seed that spreads jittered checks (default: a hash of the `HOSTNAME`
    /// environment variable, the pod name under Kubernetes, so replicas differ).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut builder = health_core::Registry::builder();
    /// builder.jitter_seed(42);
    /// ```
    pub fn jitter_seed(&mut self, seed: u64) -> &mut RegistryBuilder {
        self.jitter_seed = Some(seed);
        self
    }

    /// Freezes the registry and starts one task per scheduled check on the current tokio
    /// runtime.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (registry, runner) = health_core::Registry::builder().spawn();
    /// assert_eq!(runner.len(), 0);
    /// # drop(registry); }
    /// ```
    #[must_use = "dropping the runner stops its checks"]
    pub fn spawn(mut self) -> (Registry, Runner) {
        let seed = self
            .jitter_seed
            .unwrap_or_else(|| fnv1a(0, std::env::var("HOSTNAME").unwrap_or_default().as_bytes()));
        let scheduled = std::mem::take(&mut self.scheduled);
        let registry = self.build();
        let tasks = scheduled
            .into_iter()
            .map(|scheduled| {
                let offset = scheduled.schedule.jitter_offset(seed, &scheduled.name);
                tokio::spawn((scheduled.start)(offset)).abort_handle()
            })
            .collect();
        (registry, Runner { tasks })
    }
}

/// The running checks. Dropping it (or [`stop`](Self::stop)) stops them; results then go
/// stale and readiness fails through `max_age`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (registry, runner) = health_core::Registry::builder().spawn();
/// runner.stop();
/// # drop(registry); }
/// ```
pub struct Runner {
    tasks: Vec<AbortHandle>,
}

impl Runner {
    /// Returns the number of running checks.
    ///
    /// # Examples
    ///
    /// See [`RegistryBuilder::spawn`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Returns `true` if no check is scheduled.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (_registry, runner) = health_core::Registry::builder().spawn();
    /// assert!(runner.is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every check; a run in flight is dropped.
    ///
    /// # Examples
    ///
    /// See [`Runner`].
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("checks", &self.tasks.len())
            .finish()
    }
}

/// One check's task: at most one run in flight, by construction (runs are sequential).
async fn run<C: Check>(check: C, handle: CheckHandle, schedule: Schedule, offset: Duration) {
    tokio::time::sleep(schedule.initial_delay + offset).await;
    let mut hysteresis = Hysteresis::new(schedule.failure_threshold, schedule.success_threshold);
    loop {
        let started = Instant::now();
        let report = run_once(&check, schedule.timeout).await;
        let elapsed = started.elapsed();
        if elapsed.as_secs_f64() > schedule.timeout.as_secs_f64() * SLOW_SHARE
            && report.status() != Status::Unhealthy
        {
            tracing::warn!(target: "health", check = handle.name(), duration = ?elapsed, timeout = ?schedule.timeout, "slow check: run took over 80% of its timeout");
        }
        let report = report.with_duration(elapsed);
        if hysteresis.observe(report.status() != Status::Unhealthy) {
            handle.publish(report);
        } else {
            tracing::debug!(target: "health", check = handle.name(), status = %report.status(), "result held back by threshold");
            handle.touch();
        }
        let interval = match (hysteresis.failing(), schedule.failing_interval) {
            (true, Some(failing)) => failing,
            _ => schedule.interval,
        };
        tokio::time::sleep_until(started + interval).await;
    }
}

/// Runs the check once under `timeout`, turning a timeout or a panic into Unhealthy.
async fn run_once<C: Check>(check: &C, timeout: Duration) -> Report {
    // `check()` itself may panic before it returns a future (a `fn check` that does work
    // ahead of its `async` block, such as taking a pooled connection): that is a failed
    // run too, not the end of the check's task.
    let future = match catch_unwind(AssertUnwindSafe(|| check.check())) {
        Ok(future) => future,
        Err(panic) => return panicked(&*panic),
    };
    // Dropping the `timeout` future at the deadline drops the check's future with it,
    // synchronously: whatever the check holds (a connection, a permit) is released before
    // the result is recorded.
    match tokio::time::timeout(timeout, CatchUnwind(Some(Box::pin(future)))).await {
        Ok(Ok(report)) => report,
        Ok(Err(panic)) => panicked(&*panic),
        Err(_) => Report::unhealthy(format!("timed out after {}", format_duration(timeout))),
    }
}

fn panicked(payload: &(dyn Any + Send)) -> Report {
    Report::unhealthy(format!("check panicked: {}", panic_message(payload)))
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

/// Polls a future inside `catch_unwind`, so a panicking check fails its run instead of
/// killing its task; dropping it (at the deadline, or after a panic) is caught too, so a
/// check whose clean-up panics keeps its schedule.
struct CatchUnwind<F>(Option<Pin<Box<F>>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(future) = self.0.as_mut() else {
            panic!("CatchUnwind polled after it completed");
        };
        // AssertUnwindSafe: after a panic the future is never polled again (we return
        // Ready and drop it), so no broken invariant can be observed.
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => {
                drop_quietly(self.0.take());
                Poll::Ready(Err(panic))
            }
        }
    }
}

impl<F> Drop for CatchUnwind<F> {
    fn drop(&mut self) {
        drop_quietly(self.0.take());
    }
}

/// Drops a check's future, swallowing a panic from its destructor: the run's result is
/// already decided (timed out, or panicked), and the task must live on.
fn drop_quietly<T>(value: T) {
    if catch_unwind(AssertUnwindSafe(|| drop(value))).is_err() {
        tracing::warn!(target: "health", "a check's future panicked while being dropped");
    }
}

/// Failure and success thresholds: which results are published.
///
/// The first result is published as it is (there is nothing to hold on to yet); after
/// that, crossing from passing to failing takes `failure_threshold` consecutive failures
/// and back takes `success_threshold` consecutive passes. Results on the same side are
/// always published (their details may have changed).
#[derive(Debug)]
struct Hysteresis {
    failure_threshold: u32,
    success_threshold: u32,
    consecutive: u32,
    last_passed: Option<bool>,
    published_passing: Option<bool>,
}

impl Hysteresis {
    fn new(failure_threshold: u32, success_threshold: u32) -> Hysteresis {
        Hysteresis {
            failure_threshold,
            success_threshold,
            consecutive: 0,
            last_passed: None,
            published_passing: None,
        }
    }

    /// Records one run; returns `true` if its result should be published.
    fn observe(&mut self, passed: bool) -> bool {
        self.consecutive = if self.last_passed == Some(passed) {
            self.consecutive.saturating_add(1)
        } else {
            1
        };
        self.last_passed = Some(passed);
        let publish = match self.published_passing {
            None => true,
            Some(published) if published == passed => true,
            Some(_) if passed => self.consecutive >= self.success_threshold,
            Some(_) => self.consecutive >= self.failure_threshold,
        };
        if publish {
            self.published_passing = Some(passed);
        }
        publish
    }

    /// `true` while the last run failed.
    fn failing(&self) -> bool {
        self.last_passed == Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::{Hysteresis, Schedule, fnv1a};
    use std::time::Duration;

    #[test]
    fn thresholds_hold_back_flaps() {
        let mut h = Hysteresis::new(3, 2);
        assert!(h.observe(true), "the first result is published as is");
        assert!(!h.observe(false), "one failure is below a threshold of 3");
        assert!(!h.observe(false));
        assert!(
            h.observe(false),
            "the third consecutive failure is published"
        );
        assert!(
            !h.observe(true),
            "one pass is below a success threshold of 2"
        );
        assert!(
            h.observe(false),
            "still failing: a same-side result is published"
        );
        assert!(!h.observe(true));
        assert!(h.observe(true), "two consecutive passes recover");
    }

    #[test]
    fn same_side_results_are_published() {
        let mut h = Hysteresis::new(2, 2);
        assert!(h.observe(false));
        assert!(
            h.observe(false),
            "a new failure reason must replace the old one"
        );
    }

    #[test]
    fn jitter_is_bounded_and_deterministic() {
        let schedule = Schedule::every(Duration::from_secs(10)).jitter(Duration::from_secs(3));
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..64 {
            let offset = schedule.jitter_offset(seed, "db");
            assert!(
                offset < Duration::from_secs(3),
                "offset {offset:?} out of bounds"
            );
            assert_eq!(
                offset,
                schedule.jitter_offset(seed, "db"),
                "same seed, same offset"
            );
            distinct.insert(offset);
        }
        assert!(
            distinct.len() > 32,
            "seeds must spread replicas, got {}",
            distinct.len()
        );
        assert_ne!(fnv1a(1, b"db"), fnv1a(2, b"db"));
    }

    #[test]
    fn jitter_spreads_names_that_differ_at_the_end() {
        // Plain FNV-1a put these 64 names into a handful of clusters (46 distinct
        // milliseconds out of 3,000); a replica's checks must spread like its peers do.
        let schedule = Schedule::every(Duration::from_secs(10)).jitter(Duration::from_secs(3));
        let millis: std::collections::HashSet<_> = (0..64)
            .map(|index| {
                schedule
                    .jitter_offset(7, &format!("check-{index}"))
                    .as_millis()
            })
            .collect();
        assert!(
            millis.len() >= 62,
            "only {} distinct first-run times",
            millis.len()
        );
        let thirds: std::collections::HashSet<_> = millis.iter().map(|ms| ms / 1_000).collect();
        assert_eq!(thirds.len(), 3, "every second of the window gets checks");
    }
}
