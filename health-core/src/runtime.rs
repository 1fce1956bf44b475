//! The background runner: one tokio task per evaluated check, with interval, timeout,
//! initial delay, jitter, thresholds and panic isolation. Feature `runtime`.

mod blocking;
mod resolver;
mod schedule;
mod task;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::task::AbortHandle;

use crate::check::Check;
use crate::registry::{Registry, RegistryBuilder};
use crate::spec::{CheckSpec, RegistryError};

pub use self::blocking::{BlockingCheck, blocking_dependency_fn, blocking_fn};
pub use self::resolver::Resolver;
use self::schedule::{Jitter, fnv1a};
pub use self::schedule::{MAX_AGE_SLACK, Schedule};
use self::task::run;

/// Starts a scheduled check's task, given its jitter.
type StartTask = Box<dyn FnOnce(Jitter) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

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
    /// As [`RegistryBuilder::push`], and a [`RegistryError`] naming the check and the
    /// values if the schedule cannot work: a zero interval, timeout, failing interval or
    /// threshold ([`ZeroSetting`](RegistryError::ZeroSetting)); a duration the clock
    /// cannot count ([`DurationOutOfRange`](RegistryError::DurationOutOfRange)); a timeout
    /// not below the interval or the failing interval, a jitter or failing interval not
    /// below the interval ([`DurationNotBelow`](RegistryError::DurationNotBelow)); a
    /// `max_age` shorter than the longest gap a live runner may leave between two
    /// results ([`MaxAgeTooShort`](RegistryError::MaxAgeTooShort)).
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
    ///
    /// let refused = builder.schedule(
    ///     CheckSpec::new("slow").readiness(),
    ///     Schedule::every(Duration::from_secs(5)).timeout(Duration::from_secs(5)),
    ///     check_fn(|| async { true }),
    /// );
    /// assert_eq!(
    ///     refused.unwrap_err().to_string(),
    ///     "check \"slow\": timeout 5s must be below its interval 5s",
    /// );
    /// let (registry, runner) = builder.spawn();
    /// # drop((registry, runner)); Ok(()) }
    /// ```
    pub fn schedule<C: Check>(
        &mut self,
        spec: CheckSpec,
        schedule: Schedule,
        check: C,
    ) -> Result<(), RegistryError> {
        schedule.validate(&spec.name)?;
        let max_age = match spec.max_age {
            // A zero max_age is `push`'s to refuse, with its own error.
            Some(max_age) if !max_age.is_zero() && max_age < schedule.longest_gap() => {
                return Err(RegistryError::MaxAgeTooShort {
                    name: spec.name,
                    max_age,
                    needed: schedule.longest_gap(),
                });
            }
            Some(max_age) => max_age,
            None => schedule.default_max_age(),
        };
        let kind = if spec.kind == crate::CheckKind::Internal {
            C::KIND
        } else {
            spec.kind
        };
        let name = spec.name.clone();
        let handle = self.push(spec.max_age(max_age).kind(kind))?;
        handle.record_schedule(schedule.timeout);
        self.scheduled.push(Scheduled {
            name,
            start: Box::new(move |jitter| Box::pin(run(check, handle, schedule, jitter))),
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
                let jitter = Jitter::new(&scheduled.schedule, seed, &scheduled.name);
                tokio::spawn((scheduled.start)(jitter)).abort_handle()
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
