//! The floor: one `Acquire` load of one `AtomicU64`, the least any read of shared state
//! can cost.
//!
//! Not a design anyone would ship (it holds one status, not N), but the physical limit of
//! a probe read on the machine at hand: every other contender is measured against it in
//! the same run.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Contender, Outcome, Status};

/// One status in one atomic word; `set` ignores which check it is told about.
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, floor::Floor};
///
/// let floor = Floor::new(8);
/// floor.set(3, Status::Warn);
/// assert_eq!(floor.aggregate(), Status::Warn);
/// ```
#[derive(Debug)]
pub struct Floor {
    word: AtomicU64,
}

impl Contender for Floor {
    fn new(_: usize) -> Self {
        Self {
            word: AtomicU64::new(0),
        }
    }

    fn set(&self, _: usize, status: Status) {
        // Ordering: Release pairs with the load in `aggregate`, as a real publisher's would.
        self.word.store(status as u64, Ordering::Release);
    }

    fn aggregate(&self) -> Outcome {
        // Ordering: Acquire, as health-core's probe read; `black_box` keeps the compiler
        // from knowing the word's address or value.
        match black_box(&self.word).load(Ordering::Acquire) {
            0 => Status::Pass,
            1 => Status::Warn,
            _ => Status::Fail,
        }
    }
}
