//! `RwLock<HashMap<String, Status>>`: the usual hand-written readiness state.
//!
//! The probe takes the read lock and walks the map; a check's updater takes the write lock.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::{Contender, Outcome, Status, check_names, worst};

/// Check statuses in a `HashMap` behind a [`std::sync::RwLock`].
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, rwlock_hashmap::RwLockHashMap};
///
/// let checks = RwLockHashMap::new(8);
/// checks.set(0, Status::Warn);
/// assert_eq!(checks.aggregate(), Status::Warn);
/// ```
#[derive(Debug)]
pub struct RwLockHashMap {
    map: RwLock<HashMap<String, Status>>,
    // Keys are built once so that `set` allocates nothing inside the lock: the hand-written
    // `map.write().insert(name.to_string(), s)` holds the lock longer, so this errs in the
    // contender's favour.
    names: Vec<String>,
}

impl Contender for RwLockHashMap {
    fn new(n: usize) -> Self {
        let names = check_names(n);
        let map = names
            .iter()
            .map(|name| (name.clone(), Status::Pass))
            .collect();
        Self {
            map: RwLock::new(map),
            names,
        }
    }

    fn set(&self, i: usize, status: Status) {
        let mut map = self.map.write().expect("no writer panics");
        if let Some(slot) = map.get_mut(&self.names[i]) {
            *slot = status;
        }
    }

    fn aggregate(&self) -> Outcome {
        worst(self.map.read().expect("no writer panics").values())
    }
}
