//! Precomputed counters under an `RwLock`: O(1) reads like health-core's, with a lock.
//!
//! The fair lock contender: the updater keeps the failing and warning counts in step with
//! the statuses while it holds the write lock, so a probe takes the read lock and looks at
//! two integers instead of walking a map. Against health-core it separates what the
//! algorithm wins (no walk) from what the synchronisation wins (no lock).

use std::sync::RwLock;

use crate::{Contender, Outcome, Status};

/// Check statuses with their failing and warning counts, behind a
/// [`std::sync::RwLock`].
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, rwlock_counters::RwLockCounters};
///
/// let checks = RwLockCounters::new(8);
/// checks.set(0, Status::Warn);
/// checks.set(1, Status::Fail);
/// assert_eq!(checks.aggregate(), Status::Fail);
/// checks.set(1, Status::Pass);
/// assert_eq!(checks.aggregate(), Status::Warn);
/// ```
#[derive(Debug)]
pub struct RwLockCounters {
    state: RwLock<Counters>,
}

#[derive(Debug)]
struct Counters {
    statuses: Vec<Status>,
    warn: usize,
    fail: usize,
}

impl Counters {
    fn count(&mut self, status: Status, up: bool) {
        let count = match status {
            Status::Pass => return,
            Status::Warn => &mut self.warn,
            Status::Fail => &mut self.fail,
        };
        if up {
            *count += 1;
        } else {
            *count -= 1;
        }
    }
}

impl Contender for RwLockCounters {
    fn new(n: usize) -> Self {
        Self {
            state: RwLock::new(Counters {
                statuses: vec![Status::Pass; n],
                warn: 0,
                fail: 0,
            }),
        }
    }

    fn set(&self, i: usize, status: Status) {
        let mut state = self.state.write().expect("no writer panics");
        let old = std::mem::replace(&mut state.statuses[i], status);
        state.count(old, false);
        state.count(status, true);
    }

    fn aggregate(&self) -> Outcome {
        let state = self.state.read().expect("no writer panics");
        if state.fail > 0 {
            Status::Fail
        } else if state.warn > 0 {
            Status::Warn
        } else {
            Status::Pass
        }
    }
}
