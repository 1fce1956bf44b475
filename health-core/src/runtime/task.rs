//! One check's task: the run loop, the timeout, panic isolation and thresholds.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use crate::check::Check;
use crate::registry::CheckHandle;
use crate::report::{Ending, Report};
use crate::status::Status;

use super::Schedule;
use super::schedule::Jitter;

/// A run that takes longer than this share of its timeout logs a slow-check warning.
const SLOW_SHARE: f64 = 0.8;

/// One check's task: at most one run in flight, by construction (runs are sequential).
pub(super) async fn run<C: Check>(
    check: C,
    handle: CheckHandle,
    schedule: Schedule,
    jitter: Jitter,
) {
    let first = jitter.offset(0, schedule.interval);
    tokio::time::sleep(schedule.initial_delay.saturating_add(first)).await;
    let mut hysteresis = Hysteresis::new(schedule.failure_threshold, schedule.success_threshold);
    let mut runs: u64 = 0;
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
        handle.record_run(&report, elapsed);
        if hysteresis.observe(report.status() != Status::Unhealthy) {
            handle.publish(report);
        } else {
            tracing::debug!(target: "health", check = handle.name(), status = %report.status(), "result held back by threshold");
            handle.touch();
        }
        let period = match (hysteresis.failing(), schedule.failing_interval) {
            (true, Some(failing)) => failing,
            _ => schedule.interval,
        };
        runs = runs.wrapping_add(1);
        let wait = period.saturating_add(jitter.offset(runs, period));
        // Validated durations keep this within what an `Instant` holds; should a platform
        // hold less, the next run is simply never due, rather than a panic.
        match started.checked_add(wait) {
            Some(next) => tokio::time::sleep_until(next).await,
            None => std::future::pending().await,
        }
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
        Err(_) => Report::timed_out(timeout),
    }
}

fn panicked(payload: &(dyn Any + Send)) -> Report {
    panic_report(panic_message(payload))
}

/// The report of a run that panicked with `message`.
pub(super) fn panic_report(message: &str) -> Report {
    Report::unhealthy(format!("check panicked: {message}")).ended(Ending::Panicked)
}

pub(super) fn panic_message(payload: &(dyn Any + Send)) -> &str {
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
    use super::Hysteresis;

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
}
