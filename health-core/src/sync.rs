//! Concurrency primitives: `std` normally, loom's models under `RUSTFLAGS="--cfg loom"`.
//!
//! Every atomic, `Arc` and `ArcSwap` in this crate is imported from here, never from `std`
//! or `arc_swap` directly, so a loom build sees every shared-memory operation we make.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence},
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence},
};

#[cfg(not(loom))]
pub(crate) use arc_swap::ArcSwap;

#[cfg(loom)]
pub(crate) use self::model::ArcSwap;

/// Loom-visible stand-in for `arc_swap::ArcSwap`: the same method names, a lock instead
/// of hazard pointers.
///
/// arc-swap's own atomics and thread-locals are invisible to loom, so we model it as a
/// linearizable cell and let loom explore *our* protocol around it. arc-swap's correctness
/// is its own (miri, TSAN and stress tests in its CI).
#[cfg(loom)]
mod model {
    use loom::sync::{Arc, RwLock};

    #[derive(Debug)]
    pub(crate) struct ArcSwap<T>(RwLock<Arc<T>>);

    impl<T> ArcSwap<T> {
        pub(crate) fn new(value: Arc<T>) -> Self {
            Self(RwLock::new(value))
        }

        pub(crate) fn from_pointee(value: T) -> Self {
            Self::new(Arc::new(value))
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            Arc::clone(&self.0.read().unwrap())
        }

        pub(crate) fn store(&self, value: Arc<T>) {
            *self.0.write().unwrap() = value;
        }

        pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
            std::mem::replace(&mut *self.0.write().unwrap(), value)
        }

        pub(crate) fn rcu<F>(&self, mut f: F) -> Arc<T>
        where
            F: FnMut(&Arc<T>) -> T,
        {
            let mut guard = self.0.write().unwrap();
            let new = Arc::new(f(&guard));
            std::mem::replace(&mut *guard, new)
        }
    }
}
