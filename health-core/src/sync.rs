//! Concurrency primitives: `std` normally, loom's models under `RUSTFLAGS="--cfg loom"`.
//!
//! Every atomic, `Arc`, lock and `ArcSwap` in this crate is imported from here, never from
//! `std` or `arc_swap` directly, so a loom build sees every shared-memory operation we
//! make.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence},
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence},
};

/// Set once by `RegistryBuilder::build`; loom has no `OnceLock`, and needs none: a reader
/// that misses the value is covered by the protocol (see `build`), and the models build
/// their registries before spawning threads.
pub(crate) use std::sync::OnceLock;

#[cfg(not(loom))]
pub(crate) use arc_swap::ArcSwap;

#[cfg(loom)]
pub(crate) use self::model::ArcSwap;

/// A loom model of `arc_swap::ArcSwap` whose visibility goes through a loom atomic, so
/// that loom checks the orderings of the protocols built on it.
///
/// arc-swap publishes a value by swapping one pointer and reads it by loading that
/// pointer, keeping the value alive with its debt lists. The model keeps exactly that
/// visible to loom: the "pointer" is a loom atomic index into every value ever stored,
/// and loom may let a load read any index the memory model allows, an old one included.
/// The values themselves sit in a `std` mutex, which loom cannot see and so cannot mistake
/// for synchronisation: it only holds storage, like arc-swap's heap. (A model that guarded
/// the value with a loom lock orders everything around it, and a too-weak ordering in our
/// code passes unnoticed, as it did before this model.)
///
/// The orderings are the acquire/release half of arc-swap's: it swaps and loads the
/// pointer with `SeqCst`, but loom gives a `SeqCst` load the newest `SeqCst` store in its
/// schedule, which would make the model a linearizable cell again and hide our orderings.
/// Nothing of ours relies on arc-swap's single total order, only on a loaded value being
/// at least as new as what the load synchronised with, so the model's `Release` swaps and
/// `Acquire` loads are what we may assume, and no more.
#[cfg(loom)]
mod model {
    use std::fmt;

    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    pub(crate) struct ArcSwap<T> {
        /// Index into `values` of the current value: the pointer arc-swap swaps.
        current: AtomicUsize,
        /// Every value ever stored, kept until the cell drops, so a load that reads an old
        /// index still finds its value (arc-swap's debts keep a loaded value alive too).
        values: std::sync::Mutex<Vec<Arc<T>>>,
    }

    impl<T> ArcSwap<T> {
        pub(crate) fn new(value: Arc<T>) -> Self {
            Self {
                current: AtomicUsize::new(0),
                values: std::sync::Mutex::new(vec![value]),
            }
        }

        pub(crate) fn from_pointee(value: T) -> Self {
            Self::new(Arc::new(value))
        }

        /// Keeps `value` and returns its index, not yet published.
        fn keep(&self, value: Arc<T>) -> usize {
            let mut values = self.values.lock().unwrap();
            values.push(value);
            values.len() - 1
        }

        fn value(&self, index: usize) -> Arc<T> {
            Arc::clone(&self.values.lock().unwrap()[index])
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            // arc-swap: `HybridStrategy::load` loads the pointer (with `SeqCst`).
            self.value(self.current.load(Ordering::Acquire))
        }

        pub(crate) fn store(&self, value: Arc<T>) {
            drop(self.swap(value));
        }

        pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
            let index = self.keep(value);
            // arc-swap: `ArcSwapAny::swap` swaps the pointer (with `SeqCst`).
            self.value(self.current.swap(index, Ordering::AcqRel))
        }

        pub(crate) fn rcu<R, F>(&self, mut f: F) -> Arc<T>
        where
            F: FnMut(&Arc<T>) -> R,
            R: Into<Arc<T>>,
        {
            let mut index = self.current.load(Ordering::Acquire);
            loop {
                let current = self.value(index);
                let new = self.keep(f(&current).into());
                // arc-swap: `compare_and_swap` with `SeqCst` on success, `Relaxed` on
                // failure, after which `rcu` loads the pointer again.
                match self
                    .current
                    .compare_exchange(index, new, Ordering::SeqCst, Ordering::Relaxed)
                {
                    Ok(_) => return current,
                    Err(_) => index = self.current.load(Ordering::SeqCst),
                }
            }
        }
    }

    impl<T: fmt::Debug> fmt::Debug for ArcSwap<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_tuple("ArcSwap").field(&self.load_full()).finish()
        }
    }
}

/// Metrics counters: `std`'s atomics under loom too, the one exception to this module's
/// rule. They are statistics, written `Relaxed` and read at scrape time; they publish no
/// other memory and no decision of the protocol reads them, so loom would check no
/// property on them and only multiply the interleavings of every model that publishes.
pub(crate) mod stats {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
}
