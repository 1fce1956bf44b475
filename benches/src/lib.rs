//! The designs that health-core is measured against, and the HTTP peers of `http_probe`.
//!
//! # Example
//!
//! ```
//! use health_benches::{Contender, Status, rwlock_hashmap::RwLockHashMap};
//!
//! let checks = RwLockHashMap::new(8);
//! checks.set(3, Status::Fail);
//! assert_eq!(checks.aggregate(), Status::Fail);
//! ```
//!
//! # Items
//!
//! Probe-read contenders (criterion bench `probe_reads`), all behind [`Contender`]:
//! - [`floor`]: one `Acquire` load of one `AtomicU64`, the physical limit of a read.
//! - [`rwlock_counters`]: failing and warning counts kept by the updater, under an
//!   `RwLock`: O(1) reads like health-core's, with a lock.
//! - [`rwlock_hashmap`]: `RwLock<HashMap<String, Status>>`.
//! - [`mutex_hashmap`]: `Mutex<HashMap<String, Status>>`.
//! - [`arcswap_hashmap`]: `ArcSwap<HashMap<String, Status>>`, writers clone and store.
//!
//! HTTP (binary `http_probe`; `grpc_probe` shares [`load`]'s reporting):
//! - [`peers`]: the servers, all bound by the caller on `127.0.0.1:0`.
//! - [`load`]: the keep-alive client and its latency record; [`load::nearest_rank`], the
//!   rule of every percentile both binaries print, and [`load::load_average`].
//!
//! The contenders use this crate's own [`Status`], not health-core's, so that they stay what a
//! hand-written service would contain.

pub mod arcswap_hashmap;
pub mod floor;
pub mod load;
pub mod mutex_hashmap;
pub mod peers;
pub mod rwlock_counters;
pub mod rwlock_hashmap;

/// The state of one check in the contenders, ordered from best to worst.
///
/// # Examples
///
/// ```
/// use health_benches::Status;
///
/// assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Healthy.
    Pass,
    /// Working but degraded; still ready.
    Warn,
    /// Not ready.
    Fail,
}

/// The aggregate over all checks: the worst [`Status`] among them.
pub type Outcome = Status;

/// An "aggregate readiness over N checks" design, as the criterion bench drives it.
///
/// Adding a design to `probe_reads` means implementing this trait for it (a newtype around
/// the design is fine) and listing it once in the bench.
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, mutex_hashmap::MutexHashMap};
///
/// fn flip<C: Contender>() -> Status {
///     let checks = C::new(4);
///     checks.set(0, Status::Warn);
///     checks.aggregate()
/// }
/// assert_eq!(flip::<MutexHashMap>(), Status::Warn);
/// ```
pub trait Contender: Sync {
    /// Creates the design with `n` checks, all [`Status::Pass`].
    fn new(n: usize) -> Self;

    /// Sets check `i` (`0..n`) to `status`.
    ///
    /// # Panics
    ///
    /// If `i >= n`.
    fn set(&self, i: usize, status: Status);

    /// Returns the worst status over all checks: what a readiness probe reads.
    fn aggregate(&self) -> Outcome;
}

/// Folds statuses the way a hand-written readiness handler does: the worst one wins, and the
/// first [`Status::Fail`] ends the walk.
///
/// Shared by every contender so that they differ only in how they synchronise.
///
/// # Examples
///
/// ```
/// use health_benches::{Status, worst};
///
/// assert_eq!(worst(&[Status::Pass, Status::Warn, Status::Pass]), Status::Warn);
/// assert_eq!(worst(&[]), Status::Pass);
/// ```
pub fn worst<'a>(statuses: impl IntoIterator<Item = &'a Status>) -> Outcome {
    let mut worst = Status::Pass;
    for &status in statuses {
        if status == Status::Fail {
            return Status::Fail;
        }
        worst = worst.max(status);
    }
    worst
}

/// Returns the names `check-0 .. check-{n-1}`, the map keys of every contender.
fn check_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("check-{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{
        Contender, Status, arcswap_hashmap::ArcSwapHashMap, floor::Floor,
        mutex_hashmap::MutexHashMap, rwlock_counters::RwLockCounters,
        rwlock_hashmap::RwLockHashMap,
    };

    fn flips_to_fail_and_back<C: Contender>() {
        let checks = C::new(8);
        assert_eq!(checks.aggregate(), Status::Pass);
        checks.set(7, Status::Warn);
        assert_eq!(checks.aggregate(), Status::Warn);
        checks.set(2, Status::Fail);
        assert_eq!(checks.aggregate(), Status::Fail);
        checks.set(2, Status::Pass);
        checks.set(7, Status::Pass);
        assert_eq!(checks.aggregate(), Status::Pass);
    }

    #[test]
    fn rwlock_hashmap_flips() {
        flips_to_fail_and_back::<RwLockHashMap>();
    }

    #[test]
    fn mutex_hashmap_flips() {
        flips_to_fail_and_back::<MutexHashMap>();
    }

    #[test]
    fn arcswap_hashmap_flips() {
        flips_to_fail_and_back::<ArcSwapHashMap>();
    }

    #[test]
    fn rwlock_counters_flip() {
        flips_to_fail_and_back::<RwLockCounters>();
    }

    #[test]
    fn floor_holds_the_last_status() {
        let floor = Floor::new(8);
        for status in [Status::Warn, Status::Fail, Status::Pass] {
            floor.set(5, status);
            assert_eq!(floor.aggregate(), status);
        }
    }

    #[test]
    fn zero_checks_pass() {
        assert_eq!(RwLockHashMap::new(0).aggregate(), Status::Pass);
    }
}
