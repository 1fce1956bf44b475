//! `Mutex<HashMap<String, Status>>`: the simplest hand-written readiness state.
//!
//! Probes serialise with each other as well as with updaters.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Contender, Outcome, Status, check_names, worst};

/// Check statuses in a `HashMap` behind a [`std::sync::Mutex`].
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, mutex_hashmap::MutexHashMap};
///
/// let checks = MutexHashMap::new(8);
/// checks.set(0, Status::Warn);
/// assert_eq!(checks.aggregate(), Status::Warn);
/// ```
#[derive(Debug)]
pub struct MutexHashMap {
    map: Mutex<HashMap<String, Status>>,
    // Keys are built once so that `set` allocates nothing inside the lock: the hand-written
    // `map.lock().insert(name.to_string(), s)` holds the lock longer, so this errs in the
    // contender's favour.
    names: Vec<String>,
}

impl Contender for MutexHashMap {
    fn new(n: usize) -> Self {
        let names = check_names(n);
        let map = names
            .iter()
            .map(|name| (name.clone(), Status::Pass))
            .collect();
        Self {
            map: Mutex::new(map),
            names,
        }
    }

    fn set(&self, i: usize, status: Status) {
        let mut map = self.map.lock().expect("no lock holder panics");
        if let Some(slot) = map.get_mut(&self.names[i]) {
            *slot = status;
        }
    }

    fn aggregate(&self) -> Outcome {
        worst(self.map.lock().expect("no lock holder panics").values())
    }
}
