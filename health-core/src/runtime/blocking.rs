//! Blocking checks: synchronous work run on a thread of its own, one run at a time, with
//! the deadline kept by the runner.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::check::{Check, IntoReport, kind_of};
use crate::clock::format_duration;
use crate::report::Report;
use crate::spec::CheckKind;

use super::task::{panic_message, panic_report};

/// Runs blocking jobs on a thread of their own, never two at once.
///
/// A plain OS thread per job rather than tokio's blocking pool: a runtime waits for every
/// blocking-pool task when it shuts down, so one job stuck in a hung mount or a dead
/// socket would keep the service from exiting; a detached thread dies with the process.
/// At most one thread per lane exists, however long a job is stuck, because a job only
/// starts when the previous one has returned.
#[derive(Default)]
pub(crate) struct Lane {
    /// When the job in flight started, if one is.
    started: Mutex<Option<Instant>>,
}

/// Why a job gave no value.
#[derive(Debug)]
pub(crate) enum LaneError {
    /// The previous job is still running, since this long ago; no thread was started.
    Busy(Duration),
    /// The job panicked, with this message.
    Panicked(String),
    /// The system refused a new thread.
    NoThread(io::Error),
}

impl Lane {
    /// Runs `job` on a new thread and waits for its value, unless the previous job is
    /// still running. Dropping the returned future (at the runner's deadline) leaves the
    /// thread to finish; its value is then discarded, and the lane stays busy until it
    /// returns.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, job: F) -> Result<T, LaneError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let now = Instant::now();
        {
            let mut started = self.lock();
            if let Some(since) = *started {
                return Err(LaneError::Busy(now.saturating_duration_since(since)));
            }
            *started = Some(now);
        }
        let (sender, receiver) = oneshot::channel();
        let release = Release(Arc::clone(self));
        let spawned = thread::Builder::new()
            .name("health-blocking".to_owned())
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(job))
                    .map_err(|panic| panic_message(&*panic).to_owned());
                // Free the lane before answering: a runner that reads the answer and finds
                // its next run due at once must find the lane free, not busy with a job
                // that already returned.
                drop(release);
                // Fails when the runner gave up at its deadline: the late value is
                // discarded here.
                let _ = sender.send(outcome);
            });
        // On failure the closure, and `release` with it, is dropped: the lane is free.
        spawned.map_err(LaneError::NoThread)?;
        match receiver.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(LaneError::Panicked(message)),
            // The thread unwound past `catch_unwind` (a panic payload that panicked when
            // dropped): no value, and `release` was dropped on the way.
            Err(_) => Err(LaneError::Panicked(
                "the check's thread ended without a result".to_owned(),
            )),
        }
    }

    /// Returns `true` while a job runs.
    #[cfg(test)]
    pub(crate) fn is_busy(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // Nothing panics while the lock is held; should it, the state is still whole.
        self.started.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Frees its lane when dropped: when the job returns, or if its thread never starts or
/// unwinds.
struct Release(Arc<Lane>);

impl Drop for Release {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

/// A [`Check`] that runs a synchronous closure on a thread of its own: see
/// [`blocking_fn`] and [`blocking_dependency_fn`].
///
/// `DEPENDENCY` is the check's kind as a type parameter, so `Check::KIND` is exact at
/// compile time, as for [`FnCheck`](crate::FnCheck).
pub struct BlockingCheck<F, const DEPENDENCY: bool = false> {
    function: Arc<F>,
    lane: Arc<Lane>,
}

impl<F, const DEPENDENCY: bool> BlockingCheck<F, DEPENDENCY> {
    const KIND_OF: CheckKind = kind_of(DEPENDENCY);

    fn new(function: F) -> Self {
        BlockingCheck {
            function: Arc::new(function),
            lane: Arc::default(),
        }
    }

    /// Returns what the check watches.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{blocking_dependency_fn, blocking_fn, CheckKind};
    ///
    /// assert_eq!(blocking_dependency_fn(|| true).kind(), CheckKind::Dependency);
    /// assert_eq!(blocking_fn(|| true).kind(), CheckKind::Internal);
    /// ```
    #[must_use]
    pub fn kind(&self) -> CheckKind {
        Self::KIND_OF
    }
}

impl<F, const DEPENDENCY: bool> fmt::Debug for BlockingCheck<F, DEPENDENCY> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingCheck")
            .field("kind", &Self::KIND_OF)
            .finish_non_exhaustive()
    }
}

/// Makes a [`Check`] from a synchronous closure that may block: it runs on a thread of
/// its own, so the application's async workers never wait for it.
///
/// **When to use it:** for work that blocks the calling thread, such as a synchronous
/// database driver (`postgres`, `rusqlite`, `diesel`), a file-system probe (writing a file
/// on a network mount, `statvfs`), a call into a C library. Blocking inside an async
/// check would stall a worker of the application's runtime for as long as the call
/// hangs, and the runner's timeout could not even fire on it.
///
/// **When not to:** for async work (use [`check_fn`](crate::check_fn), which costs no
/// thread), or for quick non-blocking code (reading a counter): each run starts an OS
/// thread, tens of microseconds, which only blocking work is worth.
///
/// **How a run goes:** the closure runs on a new thread named `health-blocking`; its
/// value becomes the result (anything [`IntoReport`]); a panic becomes Unhealthy `check
/// panicked: …`. At the schedule's timeout the run is Unhealthy `timed out after …`, as
/// for any check; a blocked thread cannot be stopped, so it is left to return, and
/// its late result is discarded. Until it returns, each run that falls due reports
/// Unhealthy `previous run still in flight after 12s` *without* starting another thread:
/// a check never has more than one thread, however long its dependency hangs. The first
/// run due after the thread returns starts afresh (set a short
/// [`failing_interval`](crate::Schedule::failing_interval) to notice recovery sooner).
/// The threads are not tokio's blocking pool, so a stuck one never holds up the
/// runtime's shutdown.
///
/// The check is [`CheckKind::Internal`]; use [`blocking_dependency_fn`] for one that
/// calls an external system.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{blocking_fn, CheckSpec, Registry, Schedule};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), health_core::RegistryError> {
/// let mut builder = Registry::builder();
/// builder.schedule(
///     CheckSpec::new("scratch").liveness(),
///     Schedule::every(Duration::from_secs(30)).timeout(Duration::from_secs(2)),
///     blocking_fn(|| {
///         // Blocks on the disk; on a hung mount, only this check's thread waits.
///         std::fs::write(std::env::temp_dir().join("health-probe"), b"ok")
///             .map_err(|err| format!("scratch space not writable: {err}"))
///     }),
/// )?;
/// let (registry, _runner) = builder.spawn();
/// # drop(registry); Ok(()) }
/// ```
pub fn blocking_fn<F, R>(function: F) -> BlockingCheck<F>
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoReport,
{
    BlockingCheck::new(function)
}

/// Makes a [`CheckKind::Dependency`] check from a synchronous closure, like
/// [`blocking_fn`]: for a blocking client of an external system.
///
/// # Examples
///
/// ```
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use health_core::{blocking_dependency_fn, CheckSpec, Registry, Schedule};
///
/// let mut builder = Registry::builder();
/// builder.schedule(
///     CheckSpec::new("ldap").readiness(),
///     Schedule::every(Duration::from_secs(10)),
///     // A synchronous client, standing in for a blocking driver's `ping`.
///     blocking_dependency_fn(|| {
///         TcpStream::connect_timeout(&"127.0.0.1:389".parse().unwrap(), Duration::from_millis(500))
///             .map(drop)
///     }),
/// )?;
/// # Ok::<(), health_core::RegistryError>(())
/// ```
pub fn blocking_dependency_fn<F, R>(function: F) -> BlockingCheck<F, true>
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoReport,
{
    BlockingCheck::new(function)
}

impl<F, R, const DEPENDENCY: bool> Check for BlockingCheck<F, DEPENDENCY>
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoReport,
{
    const KIND: CheckKind = Self::KIND_OF;

    async fn check(&self) -> Report {
        let function = Arc::clone(&self.function);
        match self.lane.run(move || function().into_report()).await {
            Ok(report) => report,
            Err(LaneError::Busy(running)) => Report::unhealthy(format!(
                "previous run still in flight after {}",
                format_duration(running)
            )),
            Err(LaneError::Panicked(message)) => panic_report(&message),
            Err(LaneError::NoThread(err)) => {
                Report::unhealthy(format!("could not start the check's thread: {err}"))
            }
        }
    }
}

/// The runner with blocking checks, in virtual time (see `runtime::testing`).
#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    use tokio::time::{Instant, sleep_until};

    use super::{BlockingCheck, blocking_dependency_fn, blocking_fn};
    use crate::runtime::testing::{Driver, driven, reason, spin_until};
    use crate::{
        CheckKind, CheckSpec, Outcome, Probe, Registry, RegistryBuilder, Report, Schedule, Status,
    };

    const fn secs(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    const fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// What the test tells a blocked run to do.
    enum Answer {
        Return(Report),
        Panic(&'static str),
    }

    /// A blocking closure whose runs the test answers, and its driver.
    fn scripted() -> (impl Fn() -> Report + Send + Sync + 'static, Driver<Answer>) {
        let (blocked, driver) = driven();
        let function = move || match blocked.wait() {
            Some(Answer::Return(report)) => report,
            Some(Answer::Panic(message)) => panic!("{message}"),
            None => Report::unhealthy("the test ended"),
        };
        (function, driver)
    }

    fn status(registry: &Registry, name: &str) -> Status {
        registry
            .check(name)
            .expect("registered")
            .status_at(registry.now())
    }

    /// Schedules `check` as `name`, every 10 s with a 1 s timeout, no jitter.
    fn spawn<F>(check: BlockingCheck<F>) -> (Registry, crate::Runner)
    where
        BlockingCheck<F>: crate::Check,
    {
        let mut builder = RegistryBuilder::new();
        builder
            .schedule(
                CheckSpec::new("disk").readiness(),
                Schedule::every(secs(10))
                    .timeout(secs(1))
                    .jitter(Duration::ZERO),
                check,
            )
            .expect("a valid schedule");
        builder.spawn()
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocking_check_runs_on_a_thread_of_its_own() {
        let (function, driver) = scripted();
        let runtime_thread = std::thread::current().id();
        let (threads, seen) = mpsc::channel();
        let check = blocking_fn(move || {
            let thread = std::thread::current();
            let _ = threads.send((thread.id(), thread.name().map(str::to_owned)));
            function()
        });
        let (registry, _runner) = spawn(check);

        // The run blocks its thread until answered; were it on the runtime's only
        // thread, this test could not go on to answer it.
        let run = driver.next_call().await;
        let (thread, name) = seen.try_recv().expect("the run reported its thread");
        assert_ne!(
            thread, runtime_thread,
            "a blocking run must leave the runtime's thread"
        );
        assert_eq!(name.as_deref(), Some("health-blocking"));
        assert_eq!(status(&registry, "disk"), Status::Unknown);
        run.send(Answer::Return(Report::degraded("93% full")))
            .unwrap();
        spin_until("the result to be published", || {
            status(&registry, "disk") == Status::Degraded
        })
        .await;
        assert_eq!(reason(&registry, "disk").as_deref(), Some("93% full"));
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_blocking_check_times_out_and_never_starts_a_second_thread() {
        let (function, driver) = scripted();
        let check = blocking_fn(function);
        let lane = Arc::clone(&check.lane);
        let start = Instant::now();
        let (registry, _runner) = spawn(check);

        let stuck = driver.next_call().await;
        sleep_until(start + ms(1_001)).await;
        let snapshot = registry.check("disk").unwrap().snapshot_at(registry.now());
        assert_eq!(snapshot.status(), Status::Unhealthy);
        assert_eq!(snapshot.reason(), Some("timed out after 1s"));
        assert_eq!(snapshot.report().duration(), Some(secs(1)));

        for (due, running) in [(10, "10s"), (20, "20s")] {
            sleep_until(start + secs(due) + ms(1)).await;
            assert_eq!(
                reason(&registry, "disk"),
                Some(format!("previous run still in flight after {running}")),
                "the run due at {due}s must say why it did not run"
            );
            assert_eq!(
                driver.calls(),
                1,
                "no second thread while the first is stuck"
            );
            assert!(driver.is_idle());
        }

        // The stuck call returns at last, healthy: too late, its result is dropped.
        stuck.send(Answer::Return(Report::healthy())).unwrap();
        spin_until("the stuck thread to return", || !lane.is_busy()).await;
        assert_eq!(
            reason(&registry, "disk").as_deref(),
            Some("previous run still in flight after 20s"),
            "a late result must be discarded"
        );

        // The next run due starts afresh, and the check recovers.
        sleep_until(start + secs(30) + ms(1)).await;
        let run = driver.next_call().await;
        assert_eq!(driver.calls(), 2);
        run.send(Answer::Return(Report::healthy())).unwrap();
        spin_until("the check to recover", || {
            status(&registry, "disk") == Status::Healthy
        })
        .await;
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_blocking_check_is_unhealthy_and_runs_again() {
        let (function, driver) = scripted();
        let check = blocking_fn(function);
        let lane = Arc::clone(&check.lane);
        let start = Instant::now();
        let (registry, _runner) = spawn(check);

        driver
            .next_call()
            .await
            .send(Answer::Panic("disk on fire"))
            .unwrap();
        spin_until("the panic to be reported", || {
            status(&registry, "disk") == Status::Unhealthy
        })
        .await;
        assert_eq!(
            reason(&registry, "disk").as_deref(),
            Some("check panicked: disk on fire")
        );
        assert!(!lane.is_busy(), "a panic frees the check for its next run");

        sleep_until(start + secs(10) + ms(1)).await;
        driver
            .next_call()
            .await
            .send(Answer::Return(Report::healthy()))
            .unwrap();
        spin_until("the next run to pass", || {
            status(&registry, "disk") == Status::Healthy
        })
        .await;
        assert_eq!(driver.calls(), 2);
    }

    #[test]
    fn kinds_are_exact_at_compile_time() {
        const _: () = assert!(matches!(
            <BlockingCheck<fn() -> bool, true> as crate::Check>::KIND,
            CheckKind::Dependency
        ));
        let mut builder = RegistryBuilder::new();
        let every = Schedule::every(secs(10));
        builder
            .schedule(
                CheckSpec::new("db").readiness(),
                every,
                blocking_dependency_fn(|| true),
            )
            .unwrap();
        builder
            .schedule(
                CheckSpec::new("disk").readiness(),
                every,
                blocking_fn(|| true),
            )
            .unwrap();
        let registry = builder.build();
        assert_eq!(registry.check("db").unwrap().kind(), CheckKind::Dependency);
        assert_eq!(registry.check("disk").unwrap().kind(), CheckKind::Internal);
    }
}
