//! Runtime stall detection: a ticker task on the application's runtime beats two
//! heartbeats, one for liveness (is the runtime running at all?) and one for readiness
//! (is it running on time?). Feature `runtime`.
//!
//! Both are judged at read time, like any [`Heartbeat`]: a wedged runtime cannot run the
//! ticker, so nothing it would have to run can report the stall. The probe server, on a
//! thread of its own (`health_http::Serve::spawn`), reads the silence instead.

use std::fmt;
use std::time::Duration;

use crate::clock::{Clock, Timestamp, duration_nanos};
use crate::heartbeat::Heartbeat;
use crate::registry::RegistryBuilder;
use crate::spec::{CheckSpec, RegistryError};
use crate::sync::{Arc, AtomicU64, Ordering};

/// How the liveness reason names a silent ticker.
const STALLED: &str = "runtime stalled: no tick for";

/// How the readiness reason names a late ticker.
const LAGGING: &str = "runtime lagging: tick overdue by";

/// The shortest tick: a zero interval would spin the ticker.
const MIN_TICK: Duration = Duration::from_millis(1);

/// Watches the tokio runtime it is started on: a task there ticks every 100 ms, and a
/// probe fails once the runtime has not run a tick for the check's `max_silence`, with
/// the reason `runtime stalled: no tick for 6.1s (max_silence 5s)`.
///
/// Put it on **liveness**: a runtime that cannot run a 100 ms ticker for seconds is
/// wedged (every worker blocked, a deadlock, a runaway loop), and only a restart helps.
/// Put [`lag`](Self::lag) on **readiness** to shed load earlier, while the runtime
/// still runs but late. The probes must then be answered off that runtime
/// (`health_http::Serve::spawn`), or they would stall with it and the kubelet would
/// see a timeout instead of the reason.
///
/// The ticker runs for as long as a `RuntimeStall`, a [`RuntimeLag`] or a registry that
/// registered one exists, and ends with the runtime.
///
/// # Examples
///
/// With the derive (without it, see [`register`](Self::register)):
///
/// ```
/// # #[cfg(feature = "derive")] {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use health_core::{HealthCheck, Outcome, Probe, Registry, RuntimeLag, RuntimeStall};
///
/// #[derive(HealthCheck)]
/// struct AppState {
///     /// Liveness: restart once the runtime has run nothing for 5 s.
///     #[health(liveness, max_silence = "5s")]
///     runtime: RuntimeStall,
///     /// Readiness: out of the load balancer while ticks run over 500 ms late
///     /// (with `critical = false`, only a warning).
///     #[health(readiness, max_silence = "500ms")]
///     runtime_lag: RuntimeLag,
/// }
///
/// # let paused = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// # paused.block_on(async {
/// let runtime = RuntimeStall::start(); // on the runtime it watches
/// let state = Arc::new(AppState { runtime_lag: runtime.lag(), runtime });
/// let mut builder = Registry::builder();
/// builder.register(&state)?;
/// let registry = builder.build();
/// tokio::time::sleep(Duration::from_mins(1)).await; // the runtime runs the ticker
/// assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
/// # Ok::<(), health_core::RegistryError>(()) }).unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct RuntimeStall {
    ticker: Arc<Ticker>,
}

/// The readiness side of a [`RuntimeStall`]: fails while the runtime runs its ticks
/// more than the check's `max_silence` late, with the reason `runtime lagging: tick
/// overdue by 620ms (max_silence 500ms)`.
///
/// A tick that fires more than `max_silence` late keeps the check failing until a tick
/// runs on time again, so a runtime that is steadily late fails steadily, rather than
/// only in the moments between two late ticks. Make it non-critical
/// ([`CheckSpec::critical`]`(false)`) to report the lag as a warning without leaving the
/// load balancer.
///
/// Its reported time (`time` in health+json) is when the next tick is due.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, Outcome, Probe, Registry, RuntimeStall};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), health_core::RegistryError> {
/// let runtime = RuntimeStall::start();
/// let mut builder = Registry::builder();
/// runtime.lag().register(
///     CheckSpec::new("runtime-lag").readiness().max_age(Duration::from_millis(500)),
///     &mut builder,
/// )?;
/// let registry = builder.build();
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RuntimeLag {
    ticker: Arc<Ticker>,
}

/// What the ticker task and its handles share.
struct Ticker {
    tick: Duration,
    clock: Clock,
    /// Beaten by every tick: its silence is the stall.
    alive: Heartbeat,
    /// Set, by every tick that runs on time, to when the next tick is due: its silence
    /// is how overdue the runtime is.
    due: Heartbeat,
    /// The lateness a tick may have and still count as on time, in nanoseconds: the
    /// registered [`RuntimeLag`]'s `max_silence`; `u64::MAX` until one is registered.
    max_lag: AtomicU64,
    /// How late the last tick ran, in nanoseconds.
    last_lag: AtomicU64,
}

impl RuntimeStall {
    /// The ticker's interval when started with [`start`](Self::start).
    pub const DEFAULT_TICK: Duration = Duration::from_millis(100);

    /// Starts the ticker on the current tokio runtime, the one it watches, ticking every
    /// [`DEFAULT_TICK`](Self::DEFAULT_TICK), on the system clock.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// # Examples
    ///
    /// See [`RuntimeStall`].
    #[must_use]
    pub fn start() -> RuntimeStall {
        RuntimeStall::start_with(RuntimeStall::DEFAULT_TICK, &Clock::system())
    }

    /// Starts the ticker on the current tokio runtime, ticking every `tick` (at least
    /// 1 ms), with its heartbeats on `clock`: the clock of the registry it joins.
    ///
    /// The tick bounds how soon a stall or a lag is noticed, and costs one short task
    /// run per tick; keep it well below the `max_silence` of both checks.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let runtime = health_core::RuntimeStall::start_with(
    ///     Duration::from_millis(50),
    ///     &health_core::Clock::system(),
    /// );
    /// assert_eq!(runtime.tick(), Duration::from_millis(50));
    /// # }
    /// ```
    #[must_use]
    pub fn start_with(tick: Duration, clock: &Clock) -> RuntimeStall {
        let tick = tick.max(MIN_TICK);
        let ticker = Arc::new(Ticker {
            tick,
            clock: clock.clone(),
            alive: Heartbeat::worded(clock, STALLED),
            due: Heartbeat::worded(clock, LAGGING),
            max_lag: AtomicU64::new(u64::MAX),
            last_lag: AtomicU64::new(0),
        });
        ticker.set_due(clock.now());
        tokio::spawn(run(Arc::clone(&ticker)));
        RuntimeStall { ticker }
    }

    /// Returns the readiness side: the same ticker, judged by how late it runs.
    ///
    /// # Examples
    ///
    /// See [`RuntimeLag`].
    #[must_use]
    pub fn lag(&self) -> RuntimeLag {
        RuntimeLag {
            ticker: Arc::clone(&self.ticker),
        }
    }

    /// Adds the liveness check to `builder`: Unhealthy once no tick has run for the
    /// spec's `max_age` (its `max_silence`).
    ///
    /// # Errors
    ///
    /// As [`RegistryBuilder::heartbeat`]: the spec needs a `max_age`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::{CheckSpec, Outcome, Probe, Registry, RuntimeStall};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), health_core::RegistryError> {
    /// let runtime = RuntimeStall::start();
    /// let mut builder = Registry::builder();
    /// runtime.register(CheckSpec::new("runtime").liveness().max_age(Duration::from_secs(5)), &mut builder)?;
    /// let registry = builder.build();
    /// tokio::time::sleep(Duration::from_mins(1)).await;
    /// assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    /// # Ok(()) }
    /// ```
    pub fn register(
        &self,
        spec: CheckSpec,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError> {
        builder.heartbeat(spec, &self.ticker.alive)
    }

    /// Returns the ticker's interval.
    ///
    /// # Examples
    ///
    /// See [`RuntimeStall::start_with`].
    #[must_use]
    pub fn tick(&self) -> Duration {
        self.ticker.tick
    }

    /// Returns when the last tick ran (or the ticker started, before its first tick).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let runtime = health_core::RuntimeStall::start();
    /// assert!(runtime.last_tick() <= health_core::Clock::system().now());
    /// # }
    /// ```
    #[must_use]
    pub fn last_tick(&self) -> Timestamp {
        self.ticker.alive.last_beat()
    }

    /// Returns how late the last tick ran: the runtime's scheduling delay, as a gauge to
    /// export.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let runtime = health_core::RuntimeStall::start();
    /// tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    /// assert_eq!(runtime.last_lag(), std::time::Duration::ZERO); // paused time is punctual
    /// # }
    /// ```
    #[must_use]
    pub fn last_lag(&self) -> Duration {
        // Ordering: a gauge; it publishes nothing else.
        Duration::from_nanos(self.ticker.last_lag.load(Ordering::Relaxed))
    }
}

impl RuntimeLag {
    /// Adds the readiness check to `builder`: Unhealthy while the ticks run more than the
    /// spec's `max_age` (its `max_silence`) late. Registering it sets what the ticker
    /// counts as on time; register one `RuntimeLag` per ticker.
    ///
    /// # Errors
    ///
    /// As [`RegistryBuilder::heartbeat`]: the spec needs a `max_age`.
    ///
    /// # Examples
    ///
    /// See [`RuntimeLag`].
    pub fn register(
        &self,
        spec: CheckSpec,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError> {
        let max_lag = spec.max_age_limit().map_or(u64::MAX, duration_nanos);
        builder.heartbeat(spec, &self.ticker.due)?;
        // Ordering: read by the ticker at its next tick; it guards no other memory.
        self.ticker.max_lag.store(max_lag, Ordering::Relaxed);
        Ok(())
    }
}

impl Ticker {
    /// Records a tick that ran at `now`.
    fn tick_at(&self, now: Timestamp) {
        let lag = now.saturating_duration_since(self.alive.last_beat().saturating_add(self.tick));
        let lag = duration_nanos(lag);
        // Ordering: the gauge publishes nothing else.
        self.last_lag.store(lag, Ordering::Relaxed);
        self.alive.beat_at(now);
        if lag <= self.max_lag.load(Ordering::Relaxed) {
            self.set_due(now);
        }
    }

    /// Marks the runtime on time as of `now`: the next tick is due one tick later.
    fn set_due(&self, now: Timestamp) {
        self.due.beat_at(now.saturating_add(self.tick));
    }
}

/// `true` while something can still read the ticks: a handle, or a registry that holds
/// one of the stamps. Otherwise the task holds the last references, and nothing can make
/// a new one from them.
fn is_watched(ticker: &Arc<Ticker>) -> bool {
    Arc::strong_count(ticker) > 1
        || Arc::strong_count(&ticker.alive.stamp) > 1
        || Arc::strong_count(&ticker.due.stamp) > 1
}

/// The ticker task: one short run per tick on the watched runtime.
async fn run(ticker: Arc<Ticker>) {
    // `sleep` after each tick, not `interval`: a late tick must not be followed by a
    // burst of catch-up ticks, each of which would look on time.
    loop {
        tokio::time::sleep(ticker.tick).await;
        if !is_watched(&ticker) {
            return;
        }
        ticker.tick_at(ticker.clock.now());
    }
}

impl fmt::Debug for RuntimeStall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeStall")
            .field("tick", &self.ticker.tick)
            .field("last_tick", &self.last_tick())
            .field("last_lag", &self.last_lag())
            .finish()
    }
}

impl fmt::Debug for RuntimeLag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeLag")
            .field("tick", &self.ticker.tick)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{RuntimeStall, Ticker};
    use crate::clock::{Clock, ManualClock};
    use crate::heartbeat::Heartbeat;
    use crate::registry::{Registry, RegistryBuilder};
    use crate::runtime::testing::reason;
    use crate::spec::CheckSpec;
    use crate::status::{Outcome, Probe, Status};
    use crate::sync::{Arc, AtomicU64};

    const TICK: Duration = Duration::from_millis(100);
    const MAX_SILENCE: Duration = Duration::from_secs(5);
    const MAX_LAG: Duration = Duration::from_millis(500);

    /// A ticker driven by hand on virtual time (no task), registered as `runtime` on
    /// liveness and `runtime-lag` on readiness.
    fn fixture(critical_lag: bool) -> (ManualClock, RuntimeStall, Registry) {
        let time = ManualClock::new();
        let clock: Clock = time.clock();
        let ticker = Arc::new(Ticker {
            tick: TICK,
            clock: clock.clone(),
            alive: Heartbeat::worded(&clock, super::STALLED),
            due: Heartbeat::worded(&clock, super::LAGGING),
            max_lag: AtomicU64::new(u64::MAX),
            last_lag: AtomicU64::new(0),
        });
        ticker.set_due(clock.now());
        let runtime = RuntimeStall { ticker };
        let mut builder = RegistryBuilder::with_clock(clock);
        runtime
            .register(
                CheckSpec::new("runtime").liveness().max_age(MAX_SILENCE),
                &mut builder,
            )
            .unwrap();
        runtime
            .lag()
            .register(
                CheckSpec::new("runtime-lag")
                    .readiness()
                    .critical(critical_lag)
                    .max_age(MAX_LAG),
                &mut builder,
            )
            .unwrap();
        (time, runtime, builder.build())
    }

    /// Advances virtual time by `by` and runs one tick then, as the task would.
    fn tick_after(time: &ManualClock, runtime: &RuntimeStall, by: Duration) {
        time.advance(by);
        runtime.ticker.tick_at(runtime.ticker.clock.now());
    }

    #[test]
    fn a_silent_ticker_fails_liveness_with_the_stall_named() {
        let (time, runtime, registry) = fixture(true);
        for _ in 0..50 {
            tick_after(&time, &runtime, TICK);
        }
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);

        // The runtime runs nothing: no tick for 5 s is still within max_silence...
        time.advance(MAX_SILENCE);
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
        // ...6.1 s is not.
        time.advance(Duration::from_millis(1_100));
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
        assert_eq!(
            reason(&registry, "runtime").as_deref(),
            Some("runtime stalled: no tick for 6.1s (max_silence 5s)")
        );
        // Readiness sheds load long before: the tick due 6 s ago never ran.
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        assert_eq!(
            reason(&registry, "runtime-lag").as_deref(),
            Some("runtime lagging: tick overdue by 6s (max_silence 500ms)")
        );

        // The runtime is back: its first tick is very late, so readiness waits for an
        // on-time one; liveness recovers at once.
        runtime.ticker.tick_at(runtime.ticker.clock.now());
        assert_eq!(runtime.last_lag(), Duration::from_secs(6));
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        tick_after(&time, &runtime, TICK);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    }

    #[test]
    fn steady_lag_fails_readiness_steadily_not_liveness() {
        let (time, runtime, registry) = fixture(true);
        let late = TICK + Duration::from_millis(600); // each tick 600 ms late
        tick_after(&time, &runtime, late);
        assert_eq!(runtime.last_lag(), Duration::from_millis(600));
        // Between two late ticks, at every moment: failing, never flapping back.
        for _ in 0..5 {
            for step in 0..7 {
                assert_eq!(
                    registry.probe(Probe::Readiness),
                    Outcome::Fail,
                    "step {step}"
                );
                assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
                time.advance(Duration::from_millis(100));
            }
            runtime.ticker.tick_at(runtime.ticker.clock.now());
        }
        // Lag within the limit counts as on time.
        tick_after(&time, &runtime, TICK + Duration::from_millis(400));
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
        assert_eq!(reason(&registry, "runtime-lag"), None);
    }

    #[test]
    fn a_non_critical_lag_check_only_degrades_readiness() {
        let (time, runtime, registry) = fixture(false);
        tick_after(&time, &runtime, TICK + Duration::from_secs(1));
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
        let check = registry.check("runtime-lag").unwrap();
        assert_eq!(check.status_at(registry.now()), Status::Unhealthy);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn the_task_ticks_on_its_runtime_and_ends_when_unwatched() {
        let runtime = RuntimeStall::start();
        let mut builder = Registry::builder();
        runtime
            .register(
                CheckSpec::new("runtime").liveness().max_age(MAX_SILENCE),
                &mut builder,
            )
            .unwrap();
        let registry = builder.build();
        let started = runtime.last_tick();
        tokio::time::sleep(Duration::from_mins(1)).await;
        assert!(
            runtime.last_tick().saturating_duration_since(started) >= Duration::from_millis(59_900),
            "a tick every 100 ms"
        );
        assert_eq!(runtime.last_lag(), Duration::ZERO);
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);

        // The registry still reads the stamp: the handle alone may go.
        let ticker = std::sync::Arc::downgrade(&runtime.ticker);
        drop(runtime);
        tokio::time::sleep(Duration::from_mins(1)).await;
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
        assert!(ticker.upgrade().is_some(), "still ticking for the registry");
        // Nothing reads it any more: the task ends at its next tick.
        drop(registry);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(ticker.upgrade().is_none(), "the task ended");
    }
}
