//! When a check runs: [`Schedule`], and the jitter that spreads runs across replicas.

use std::time::Duration;

use crate::spec::{RegistryError, check_range};

/// What a scheduled check's default `max_age` allows beyond interval and timeout, for
/// scheduling noise; a dead runner is then noticed within one interval plus this.
pub const MAX_AGE_SLACK: Duration = Duration::from_secs(1);

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
/// // interval 10s + jitter 1s (a tenth, by default) + timeout 500ms + 1s of slack
/// assert_eq!(schedule.default_max_age(), Duration::from_millis(12_500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub(super) interval: Duration,
    pub(super) timeout: Duration,
    pub(super) initial_delay: Duration,
    pub(super) jitter: Duration,
    pub(super) failure_threshold: u32,
    pub(super) success_threshold: u32,
    pub(super) failing_interval: Option<Duration>,
}

impl Default for Schedule {
    /// Every 10 s with a 1 s timeout (the kubelet's default probe period and timeout).
    fn default() -> Self {
        Schedule::every(health_rules::DEFAULT_INTERVAL)
    }
}

impl Schedule {
    /// Runs every `interval` plus a jitter of up to a tenth of it, with a 1 s timeout
    /// (half the interval if that is shorter, so a run never outlasts its period), no
    /// initial delay, thresholds 1.
    ///
    /// Nothing is checked here: [`RegistryBuilder::schedule`](crate::RegistryBuilder::schedule)
    /// refuses a schedule that cannot work, naming the check and the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let schedule = health_core::Schedule::every(Duration::from_millis(200));
    /// assert_eq!(schedule.timeout_limit(), Duration::from_millis(100));
    /// assert_eq!(schedule.jitter_limit(), Duration::from_millis(20));
    /// ```
    #[must_use]
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            interval,
            timeout: health_rules::default_timeout(interval),
            initial_delay: Duration::ZERO,
            jitter: health_rules::default_jitter(interval),
            failure_threshold: 1,
            success_threshold: 1,
            failing_interval: None,
        }
    }

    /// Sets the deadline of one run; the run's future is dropped when it passes. It must
    /// be below the interval (and the failing interval).
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
    /// assert_eq!(s.default_max_age(), Duration::from_secs(13)); // max(10, 5) + 1 + 1 + 1
    /// ```
    #[must_use]
    pub fn initial_delay(mut self, initial_delay: Duration) -> Schedule {
        self.initial_delay = initial_delay;
        self
    }

    /// Spreads the runs: each one waits a different offset in `[0, jitter)` more, the
    /// first after the initial delay, each next one after the interval (while failing,
    /// after the failing interval, with the jitter shrunk in the same proportion). The
    /// offsets come from a hash of the runner's seed, the check's name and the run's
    /// number: deterministic per replica, different across replicas with different
    /// seeds, so replicas started together do not probe a dependency in lock-step.
    ///
    /// Defaults to a tenth of the interval; `Duration::ZERO` runs on exact multiples of
    /// the interval. It must be below the interval.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = health_core::Schedule::default()
    ///     .initial_delay(Duration::from_secs(9))
    ///     .jitter(Duration::from_secs(2));
    /// assert_eq!(s.default_max_age(), Duration::from_secs(14)); // max(10, 9) + 2 + 1 + 1
    /// ```
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Schedule {
        self.jitter = jitter;
        self
    }

    /// Sets how many consecutive failures turn a passing check Unhealthy (default 1, the
    /// least; zero is refused when the check is scheduled).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = health_core::Schedule::default().failure_threshold(3);
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn failure_threshold(mut self, threshold: u32) -> Schedule {
        self.failure_threshold = threshold;
        self
    }

    /// Sets how many consecutive passes bring an Unhealthy check back (default 1, the
    /// least; zero is refused when the check is scheduled).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = health_core::Schedule::default().success_threshold(2);
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn success_threshold(mut self, threshold: u32) -> Schedule {
        self.success_threshold = threshold;
        self
    }

    /// Sets a shorter interval used while the last run failed, to notice recovery sooner.
    /// It must be below the interval and above the timeout.
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

    /// Returns the jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(health_core::Schedule::default().jitter_limit(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn jitter_limit(&self) -> Duration {
        self.jitter
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
    /// results a live runner can leave, `max(interval, initial_delay) + jitter + timeout`,
    /// plus [`MAX_AGE_SLACK`]. Past it, the runner is dead or wedged and readiness fails
    /// with a stale reason. The sum stops at the longest the clock counts (about 584
    /// years), so no schedule makes it overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(health_core::Schedule::default().default_max_age(), Duration::from_secs(13));
    /// ```
    #[must_use]
    pub fn default_max_age(&self) -> Duration {
        clock_sum(&[self.longest_gap(), MAX_AGE_SLACK])
    }

    /// The longest a live runner may go between two results ([`health_rules::longest_gap`]).
    pub(crate) fn longest_gap(&self) -> Duration {
        health_rules::longest_gap(self.interval, self.initial_delay, self.jitter, self.timeout)
    }

    /// Refuses a schedule that cannot work: zero where a run needs time or a count,
    /// durations the clock cannot count, a run that may outlast its period, a jitter or
    /// failing interval not below the interval.
    pub(crate) fn validate(&self, name: &str) -> Result<(), RegistryError> {
        let zero = [
            ("interval", self.interval.is_zero()),
            ("timeout", self.timeout.is_zero()),
            (
                "failing_interval",
                self.failing_interval
                    .is_some_and(|failing| failing.is_zero()),
            ),
            ("failure_threshold", self.failure_threshold == 0),
            ("success_threshold", self.success_threshold == 0),
        ];
        if let Some(&(setting, _)) = zero.iter().find(|(_, zero)| *zero) {
            return Err(RegistryError::ZeroSetting {
                name: name.to_owned(),
                setting,
            });
        }
        let durations = [
            ("interval", self.interval),
            ("timeout", self.timeout),
            ("initial_delay", self.initial_delay),
            ("jitter", self.jitter),
        ];
        let failing = self
            .failing_interval
            .map(|failing| ("failing_interval", failing));
        for (setting, value) in durations.into_iter().chain(failing) {
            check_range(name, setting, value)?;
        }
        let below = |(setting, value): (&'static str, Duration),
                     (limit, limit_value): (&'static str, Duration)| {
            if value < limit_value {
                return Ok(());
            }
            Err(RegistryError::DurationNotBelow {
                name: name.to_owned(),
                setting,
                value,
                limit,
                limit_value,
            })
        };
        let interval = ("interval", self.interval);
        below(("timeout", self.timeout), interval)?;
        if let Some(failing) = failing {
            below(failing, interval)?;
            below(("timeout", self.timeout), failing)?;
        }
        below(("jitter", self.jitter), interval)
    }
}

/// One check's jitter: the offset each of its runs waits, beyond the initial delay or the
/// interval.
#[derive(Clone, Copy, Debug)]
pub(super) struct Jitter {
    /// The hash of the runner's seed and the check's name.
    base: u64,
    spread: Duration,
    interval: Duration,
}

impl Jitter {
    pub(super) fn new(schedule: &Schedule, seed: u64, name: &str) -> Jitter {
        Jitter {
            base: fnv1a(seed, name.as_bytes()),
            spread: schedule.jitter,
            interval: schedule.interval,
        }
    }

    /// The offset in `[0, jitter × period / interval)` of run `run` (0 is the first),
    /// which follows a wait of `period` (the initial delay counts as the interval).
    ///
    /// Scaling keeps the spread in proportion to the wait it stretches: a tenth of a 10 s
    /// interval is 1 s, and of the 1 s failing interval, 100 ms, not a doubling.
    pub(super) fn offset(&self, run: u64, period: Duration) -> Duration {
        let span = if period == self.interval {
            self.spread.as_nanos()
        } else {
            self.spread.as_nanos() * period.as_nanos() / self.interval.as_nanos().max(1)
        };
        // A validated jitter is below the interval, which the clock counts in a u64.
        let span = u64::try_from(span).unwrap_or(u64::MAX);
        if span == 0 {
            return Duration::ZERO;
        }
        // The golden-ratio step sends consecutive runs to unrelated hashes; run 0 hashes
        // the base alone, as the first run always did.
        let hash = fmix64(
            self.base
                .wrapping_add(run.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        Duration::from_nanos(hash % span)
    }
}

/// FNV-1a over the seed's bytes then `bytes`: tiny, stable across releases and platforms,
/// which `std`'s `DefaultHasher` does not promise.
pub(super) fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
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

/// Adds durations, stopping at the longest the registry's clock counts (2^64 − 1 ns):
/// no sum of valid settings overflows, and none exceeds what a `max_age` may be.
fn clock_sum(parts: &[Duration]) -> Duration {
    let limit = health_rules::MAX_DURATION;
    parts
        .iter()
        .fold(Duration::ZERO, |sum, &part| sum.saturating_add(part))
        .min(limit)
}

#[cfg(test)]
mod tests {
    use super::{Jitter, Schedule, fnv1a};
    use std::time::Duration;

    #[test]
    fn jitter_is_bounded_and_deterministic() {
        let schedule = Schedule::every(Duration::from_secs(10)).jitter(Duration::from_secs(3));
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..64 {
            let offset = Jitter::new(&schedule, seed, "db").offset(0, schedule.interval);
            assert!(
                offset < Duration::from_secs(3),
                "offset {offset:?} out of bounds"
            );
            assert_eq!(
                offset,
                Jitter::new(&schedule, seed, "db").offset(0, schedule.interval),
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
                Jitter::new(&schedule, 7, &format!("check-{index}"))
                    .offset(0, schedule.interval)
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

    #[test]
    fn jitter_shrinks_with_the_failing_interval_and_varies_per_run() {
        let schedule = Schedule::every(Duration::from_secs(10)).jitter(Duration::from_secs(2));
        let jitter = Jitter::new(&schedule, 7, "db");
        let failing = Duration::from_secs(1);
        let mut distinct = std::collections::HashSet::new();
        for run in 0..200 {
            let regular = jitter.offset(run, schedule.interval);
            assert!(regular < Duration::from_secs(2), "run {run}: {regular:?}");
            let shrunk = jitter.offset(run, failing);
            assert!(
                shrunk < Duration::from_millis(200),
                "run {run}: a tenth of the wait must get a tenth of the jitter, got {shrunk:?}"
            );
            distinct.insert(regular);
        }
        assert!(distinct.len() > 190, "runs must not repeat one offset");
        let none = Schedule::every(Duration::from_secs(10)).jitter(Duration::ZERO);
        assert_eq!(
            Jitter::new(&none, 7, "db").offset(3, Duration::from_secs(10)),
            Duration::ZERO
        );
    }
}
