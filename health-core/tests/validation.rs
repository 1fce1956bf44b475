//! Time settings are refused at registration, with an error that names the check and the
//! values: the one place that says no to a schedule, a `max_age` or a heartbeat's clock
//! that cannot work. Nothing here may panic, whatever the durations (`Duration::MAX`
//! included).

#![cfg(not(loom))]

use std::time::Duration;

use health_core::{CheckSpec, Heartbeat, ManualClock, Registry, RegistryError, StartupGate};

const fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// Registers `spec` as a heartbeat, a gate, or pushed, and returns the error's text.
fn refused(result: Result<(), RegistryError>) -> String {
    match result {
        Ok(()) => panic!("registration must be refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn max_age_on_a_startup_gate_is_refused() {
    let gate = StartupGate::new();
    let mut builder = Registry::builder();
    let error = refused(builder.gate(
        CheckSpec::new("migrations").startup().max_age(secs(30)),
        &gate,
    ));
    assert_eq!(
        error,
        "startup gate \"migrations\" never goes stale: remove its max_age (30s)"
    );
    builder
        .gate(CheckSpec::new("migrations").startup(), &gate)
        .expect("without max_age the same gate registers");
}

#[test]
fn a_heartbeat_on_another_clock_is_refused() {
    let time = ManualClock::new();
    let other = ManualClock::new();
    let cases = [
        (
            "system registry, manual heartbeat",
            Registry::builder(),
            Heartbeat::with_clock(&time.clock()),
        ),
        (
            "manual registry, system heartbeat",
            health_core::RegistryBuilder::with_clock(time.clock()),
            Heartbeat::new(),
        ),
        (
            "two manual clocks",
            health_core::RegistryBuilder::with_clock(time.clock()),
            Heartbeat::with_clock(&other.clock()),
        ),
    ];
    for (case, mut builder, heartbeat) in cases {
        let error = refused(builder.heartbeat(
            CheckSpec::new("worker").liveness().max_age(secs(30)),
            &heartbeat,
        ));
        assert_eq!(
            error,
            "heartbeat \"worker\" reads another clock than its registry: make it with Heartbeat::with_clock and the registry's clock",
            "{case}"
        );
    }
    let same = [
        (Registry::builder(), Heartbeat::new()),
        (
            health_core::RegistryBuilder::with_clock(time.clock()),
            Heartbeat::with_clock(&time.clock()),
        ),
    ];
    for (mut builder, heartbeat) in same {
        builder
            .heartbeat(
                CheckSpec::new("worker").liveness().max_age(secs(30)),
                &heartbeat,
            )
            .expect("a heartbeat on its registry's clock registers");
    }
}

#[test]
fn a_max_age_beyond_the_clock_is_refused_without_panicking() {
    let mut builder = Registry::builder();
    let error = builder
        .push(CheckSpec::new("db").readiness().max_age(Duration::MAX))
        .unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::DurationOutOfRange {
                setting: "max_age",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "check \"db\": max_age 18446744073709551615.999999999s is longer than the clock can count (584 years)"
    );
    let heartbeat = Heartbeat::new();
    let error = refused(builder.heartbeat(
        CheckSpec::new("worker").liveness().max_age(Duration::MAX),
        &heartbeat,
    ));
    assert!(error.starts_with("check \"worker\": max_age "), "{error}");
    builder
        .push(
            CheckSpec::new("db")
                .readiness()
                .max_age(Duration::from_hours(400 * 365 * 24)),
        )
        .expect("four centuries fit the clock");
}

#[cfg(feature = "runtime")]
mod scheduled {
    use std::time::Duration;

    use health_core::{
        CheckSpec, MAX_AGE_SLACK, Outcome, Probe, Registry, RegistryError, Schedule, check_fn,
    };

    use super::{refused, secs};

    const fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn schedule(schedule: Schedule) -> Result<(), RegistryError> {
        schedule_with_max_age(schedule, None)
    }

    fn schedule_with_max_age(
        schedule: Schedule,
        max_age: Option<Duration>,
    ) -> Result<(), RegistryError> {
        let mut spec = CheckSpec::new("db").readiness();
        if let Some(max_age) = max_age {
            spec = spec.max_age(max_age);
        }
        Registry::builder().schedule(spec, schedule, check_fn(|| async { true }))
    }

    #[test]
    fn zero_durations_and_thresholds_are_refused() {
        let every = Schedule::every(secs(10));
        let cases = [
            (
                Schedule::every(Duration::ZERO),
                "check \"db\": interval must be above zero",
            ),
            (
                every.timeout(Duration::ZERO),
                "check \"db\": timeout must be above zero",
            ),
            (
                every.failing_interval(Duration::ZERO),
                "check \"db\": failing_interval must be above zero",
            ),
            (
                every.failure_threshold(0),
                "check \"db\": failure_threshold must be at least 1",
            ),
            (
                every.success_threshold(0),
                "check \"db\": success_threshold must be at least 1",
            ),
        ];
        for (schedule_, message) in cases {
            assert_eq!(refused(schedule(schedule_)), message);
        }
    }

    #[test]
    fn a_timeout_not_below_its_interval_is_refused() {
        let cases = [
            (
                Schedule::every(secs(5)).timeout(secs(5)),
                "check \"db\": timeout 5s must be below its interval 5s",
            ),
            (
                Schedule::every(secs(5)).timeout(secs(10)),
                "check \"db\": timeout 10s must be below its interval 5s",
            ),
            (
                Schedule::every(secs(10)).failing_interval(secs(1)),
                "check \"db\": timeout 1s must be below its failing_interval 1s",
            ),
            (
                Schedule::every(secs(10)).failing_interval(secs(20)),
                "check \"db\": failing_interval 20s must be below its interval 10s",
            ),
            (
                Schedule::every(secs(10)).jitter(secs(10)),
                "check \"db\": jitter 10s must be below its interval 10s",
            ),
        ];
        for (schedule_, message) in cases {
            let error = schedule(schedule_).unwrap_err();
            assert!(
                matches!(error, RegistryError::DurationNotBelow { .. }),
                "{error:?}"
            );
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn default_timeouts_fit_short_intervals() {
        for interval in [ms(1), ms(200), secs(1), secs(2), secs(10)] {
            let every = Schedule::every(interval);
            assert!(
                every.timeout_limit() < interval,
                "every({interval:?}) has timeout {:?}",
                every.timeout_limit()
            );
            schedule(every).expect("the defaults of any interval must validate");
        }
        assert_eq!(Schedule::every(secs(10)).timeout_limit(), secs(1));
        assert_eq!(Schedule::every(secs(1)).timeout_limit(), ms(500));
    }

    #[test]
    fn a_max_age_a_live_runner_cannot_meet_is_refused() {
        let every = Schedule::every(secs(10)).timeout(secs(1)).jitter(secs(1));
        let error = schedule_with_max_age(every, Some(secs(5))).unwrap_err();
        assert_eq!(
            error,
            RegistryError::MaxAgeTooShort {
                name: "db".to_owned(),
                max_age: secs(5),
                needed: secs(12),
            }
        );
        assert_eq!(
            error.to_string(),
            "check \"db\": max_age 5s is shorter than the 12s a live runner may leave between two results (max(interval, initial_delay) + jitter + timeout): it would read stale while healthy"
        );
        let delayed = every.initial_delay(secs(60));
        assert!(
            schedule_with_max_age(delayed, Some(secs(30))).is_err(),
            "the first result comes after initial_delay + jitter + timeout"
        );
        schedule_with_max_age(every, Some(secs(12))).expect("exactly the longest gap is enough");
        assert_eq!(every.default_max_age(), secs(12) + MAX_AGE_SLACK);
    }

    #[test]
    fn durations_beyond_the_clock_are_refused_without_panicking() {
        let every = Schedule::every(secs(10));
        let cases = [
            (Schedule::every(Duration::MAX), "interval"),
            (every.timeout(Duration::MAX), "timeout"),
            (every.initial_delay(Duration::MAX), "initial_delay"),
            (every.jitter(Duration::MAX), "jitter"),
            (every.failing_interval(Duration::MAX), "failing_interval"),
        ];
        for (schedule_, setting) in cases {
            // Nothing about such a schedule may panic, not even its accessors.
            let _ = schedule_.default_max_age();
            let error = schedule(schedule_).unwrap_err();
            assert!(
                matches!(error, RegistryError::DurationOutOfRange { setting: s, .. } if s == setting),
                "{setting}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .ends_with("is longer than the clock can count (584 years)"),
                "{error}"
            );
        }
        assert_eq!(
            Schedule::every(Duration::MAX).default_max_age(),
            Duration::from_nanos(u64::MAX),
            "sums stop at the longest the clock counts"
        );
    }

    /// Centuries are long but countable: such a schedule registers and runs, and no
    /// deadline arithmetic in the runner overflows.
    #[tokio::test(start_paused = true)]
    async fn centuries_run_without_overflow() {
        const CENTURIES: Duration = Duration::from_hours(300 * 365 * 24);
        let mut builder = Registry::builder();
        builder
            .schedule(
                CheckSpec::new("once").readiness(),
                Schedule::every(CENTURIES)
                    .timeout(CENTURIES / 2)
                    .jitter(Duration::ZERO),
                check_fn(|| async { true }),
            )
            .expect("300 years fit the clock");
        builder
            .schedule(
                CheckSpec::new("spread").readiness().critical(false),
                Schedule::every(CENTURIES).jitter(CENTURIES / 3),
                check_fn(|| async { true }),
            )
            .expect("a jitter of 100 years fits the clock");
        builder
            .schedule(
                CheckSpec::new("late").readiness().critical(false),
                Schedule::every(secs(10)).initial_delay(CENTURIES),
                check_fn(|| async { true }),
            )
            .expect("an initial delay of 300 years fits the clock");
        let (registry, _runner) = builder.spawn();
        tokio::time::sleep(secs(3_600)).await;
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
    }
}

#[test]
fn a_manual_clock_stops_at_the_end_of_time_instead_of_wrapping() {
    let time = ManualClock::new();
    time.advance(Duration::MAX);
    time.advance(secs(1));
    time.advance(Duration::MAX);
    assert_eq!(
        time.clock().now(),
        health_core::Timestamp::from_nanos(u64::MAX),
        "advancing past the end of time must not wrap to the past"
    );
}
