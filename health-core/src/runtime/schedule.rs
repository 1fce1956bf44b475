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
/// assert_eq!(schedule.default_max_age(), Duration::from_millis(11_500));
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
        Schedule::every(Duration::from_secs(10))
    }
}

impl Schedule {
    /// Runs every `interval`, with a 1 s timeout (half the interval if that is shorter,
    /// so a run never outlasts its period), no delay, no jitter, thresholds 1.
    ///
    /// Nothing is checked here: [`RegistryBuilder::schedule`](crate::RegistryBuilder::schedule)
    /// refuses a schedule that cannot work, naming the check and the values.
    ///
    /// # Examples
    ///
    /// ```
    /// let schedule = health_core::Schedule::every(std::time::Duration::from_millis(200));
    /// assert_eq!(schedule.timeout_limit(), std::time::Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            interval,
            timeout: (interval / 2).min(Duration::from_secs(1)),
            initial_delay: Duration::ZERO,
            jitter: Duration::ZERO,
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
    /// assert_eq!(health_core::Schedule::default().default_max_age(), Duration::from_secs(12));
    /// ```
    #[must_use]
    pub fn default_max_age(&self) -> Duration {
        clock_sum(&[self.longest_gap(), MAX_AGE_SLACK])
    }

    /// The longest a live runner may go between two results: the first result comes
    /// `initial_delay` + at most `jitter` + at most `timeout` after registration, each
    /// next one at most `interval` + `jitter` (the failing interval is shorter) after the
    /// previous run's start, plus at most `timeout`.
    pub(crate) fn longest_gap(&self) -> Duration {
        clock_sum(&[
            self.interval.max(self.initial_delay),
            self.jitter,
            self.timeout,
        ])
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

    /// The offset of the first run for a check named `name` under `seed`.
    pub(super) fn jitter_offset(&self, seed: u64, name: &str) -> Duration {
        let jitter = crate::clock::duration_nanos(self.jitter);
        if jitter == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(fmix64(fnv1a(seed, name.as_bytes())) % jitter)
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
    let limit = Duration::from_nanos(u64::MAX);
    parts
        .iter()
        .fold(Duration::ZERO, |sum, &part| sum.saturating_add(part))
        .min(limit)
}

#[cfg(test)]
mod tests {
    use super::{Schedule, fnv1a};
    use std::time::Duration;

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
