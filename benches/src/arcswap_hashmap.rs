//! `ArcSwap<HashMap<String, Status>>`: the copy-on-write design.
//!
//! The probe loads the current map without locking and walks it; an updater clones the map,
//! changes one entry and stores the copy.

use std::collections::HashMap;

use arc_swap::ArcSwap;

use crate::{Contender, Outcome, Status, check_names, worst};

/// Check statuses in a `HashMap` published through an [`ArcSwap`].
///
/// # Examples
///
/// ```
/// use health_benches::{Contender, Status, arcswap_hashmap::ArcSwapHashMap};
///
/// let checks = ArcSwapHashMap::new(8);
/// checks.set(0, Status::Warn);
/// assert_eq!(checks.aggregate(), Status::Warn);
/// ```
#[derive(Debug)]
pub struct ArcSwapHashMap {
    map: ArcSwap<HashMap<String, Status>>,
    names: Vec<String>,
}

impl Contender for ArcSwapHashMap {
    fn new(n: usize) -> Self {
        let names = check_names(n);
        let map = names
            .iter()
            .map(|name| (name.clone(), Status::Pass))
            .collect();
        Self {
            map: ArcSwap::from_pointee(map),
            names,
        }
    }

    fn set(&self, i: usize, status: Status) {
        // `rcu`, not load-clone-store: with more than one updater a plain store would lose
        // the other updater's change.
        self.map.rcu(|map| {
            let mut map = HashMap::clone(map);
            if let Some(slot) = map.get_mut(&self.names[i]) {
                *slot = status;
            }
            map
        });
    }

    fn aggregate(&self) -> Outcome {
        // `load`, the fast path arc-swap recommends for short reads; the guard is dropped
        // before returning.
        worst(self.map.load().values())
    }
}
