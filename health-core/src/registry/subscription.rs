//! Subscriptions: a latest-only announcement of changes, like a watch channel.
//!
//! Each subscription has a cell for its task's waker, registered with the registry when
//! the subscription is made and removed when it drops. A poll stores its waker only when
//! it differs from the one already there, so a task that waits again and again costs one
//! load per poll; a writer that changes something bumps the version and wakes every
//! registered waker.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, ArcSwap, Ordering, fence};

use super::{Aggregate, Registry, Shared};

/// Where writers find one subscription's waker.
pub(super) struct Subscriber {
    waker: ArcSwap<Option<Waker>>,
}

/// User callbacks (tracing subscribers, wakers) run as a batch: each one runs even if an
/// earlier one panicked, and the first panic resumes once the batch is done. They run
/// only where the registry's state is consistent (never while a writer owns a slot), so a
/// panicking callback reaches its caller without freezing anything.
#[derive(Default)]
pub(super) struct Panics(Option<Box<dyn Any + Send>>);

impl Panics {
    /// Runs `callback`, keeping its panic if it is the batch's first.
    pub(super) fn run(&mut self, callback: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(callback)) {
            self.0.get_or_insert(panic);
        }
    }

    /// Resumes the batch's first panic, if any.
    pub(super) fn resume(self) {
        if let Some(panic) = self.0 {
            resume_unwind(panic);
        }
    }
}

impl Shared {
    /// Tells every subscription that something changed: a check's applied status, a check
    /// coming back from stale, the start-up latch, or the shutdown phase.
    pub(super) fn notify(&self, panics: &mut Panics) {
        // Ordering: Release pairs with the Acquire version loads in `Subscription`, so a
        // subscriber that sees the bump sees the change behind it when it reads.
        self.version.fetch_add(1, Ordering::Release);
        // Ordering: this fence and the one in `Subscription::poll_changed` make the
        // store-buffering pattern safe: either the loads below see the subscriber's waker,
        // or the subscriber's version load after its fence sees the bump above. Without
        // both, each side could miss the other's write and the subscriber would sleep
        // through a change.
        fence(Ordering::SeqCst);
        let subscribers = self.subscribers.load_full();
        for subscriber in subscribers.iter() {
            if let Some(waker) = &*subscriber.waker.load_full() {
                panics.run(|| waker.wake_by_ref());
            }
        }
    }
}

impl Registry {
    /// Returns a latest-only subscription to changes: of any check's status, of the
    /// start-up latch and of the shutdown phase.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// let subscription = registry.subscribe();
    /// registry.begin_shutdown();
    /// assert!(subscription.has_changed());
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> Subscription {
        let me = Arc::new(Subscriber {
            waker: ArcSwap::from_pointee(None),
        });
        self.shared.subscribers.rcu(|subscribers| {
            let mut subscribers = Vec::clone(subscribers);
            subscribers.push(Arc::clone(&me));
            subscribers
        });
        Subscription {
            // Ordering: Relaxed; the number is only compared with later ones, and no state
            // is read on the strength of it. An older value only reports a change that
            // came before the subscription, which `mark_seen` then reads.
            seen: self.shared.version.load(Ordering::Relaxed),
            registry: self.clone(),
            me,
        }
    }
}

/// A latest-only subscription to changes, like a watch channel: changes that happen while
/// the subscriber is busy coalesce into one, and a slow subscriber never blocks a writer.
///
/// It wakes when a write changes a check's status (whether or not a probe's outcome
/// changes, so a watcher of one check sees it), when a check comes back from stale, when
/// the startup probe latches, and when shutdown begins or the server stops. Staleness
/// setting in is judged when read: a result that merely ages is seen by the next read,
/// not announced; nor is a heartbeat's beat.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Outcome, Registry};
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// let mut subscription = registry.subscribe();
/// db.healthy();
/// db.unhealthy("down");
/// db.healthy();
/// assert!(subscription.has_changed());
/// assert_eq!(subscription.mark_seen().readiness, Outcome::Pass); // only the newest state
/// assert!(!subscription.has_changed());
/// # Ok::<(), health_core::RegistryError>(())
/// ```
pub struct Subscription {
    registry: Registry,
    seen: u64,
    me: Arc<Subscriber>,
}

impl Subscription {
    /// Returns `true` if something changed since the last [`mark_seen`](Self::mark_seen)
    /// or [`changed`](Self::changed).
    ///
    /// # Examples
    ///
    /// See [`Subscription`].
    #[must_use]
    pub fn has_changed(&self) -> bool {
        // Ordering: Acquire pairs with `Shared::notify`.
        self.registry.shared.version.load(Ordering::Acquire) != self.seen
    }

    /// Marks the current state seen and returns it.
    ///
    /// # Examples
    ///
    /// See [`Subscription`].
    pub fn mark_seen(&mut self) -> Aggregate {
        // Ordering: Acquire pairs with `Shared::notify`; the version is read before the
        // state, so a change racing with this call is reported again, never lost.
        self.seen = self.registry.shared.version.load(Ordering::Acquire);
        self.registry.aggregate()
    }

    /// Waits until something changes, then returns the newest state.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn example(registry: health_core::Registry) {
    /// let mut subscription = registry.subscribe();
    /// let aggregate = subscription.changed().await;
    /// println!("readiness is now {}", aggregate.readiness);
    /// # }
    /// # let _ = example;
    /// ```
    pub async fn changed(&mut self) -> Aggregate {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await;
        self.mark_seen()
    }

    fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.has_changed() {
            return Poll::Ready(());
        }
        let waker = cx.waker();
        let known = self.me.waker.load_full();
        if !matches!(&*known, Some(known) if known.will_wake(waker)) {
            self.me.waker.store(Arc::new(Some(waker.clone())));
        }
        // Ordering: pairs with the fence in `Shared::notify`; see there. The waker that
        // fence must find is the one in our cell, stored by this poll or an earlier one,
        // which happens before this fence either way (polls of one future are ordered).
        fence(Ordering::SeqCst);
        if self.has_changed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let me = &self.me;
        self.registry.shared.subscribers.rcu(|subscribers| {
            subscribers
                .iter()
                .filter(|subscriber| !Arc::ptr_eq(subscriber, me))
                .cloned()
                .collect::<Vec<_>>()
        });
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("registry", &self.registry)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}
