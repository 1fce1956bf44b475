//! Subscriptions: a latest-only announcement of changes to the probes' outcomes.

use crate::sync::{Arc, Ordering, fence};

use super::{Aggregate, Registry, Shared};

impl Shared {
    /// Wakes every subscription after a change of outcome or lifecycle.
    pub(super) fn notify(&self) {
        // Ordering: Release pairs with the Acquire version load in `Subscription`, so a
        // subscriber that sees the bump sees the change behind it.
        self.version.fetch_add(1, Ordering::Release);
        // Ordering: the SeqCst fences here and in `Subscription::poll_changed` make the
        // store-buffering pattern safe: either this swap finds the subscriber's waker, or
        // the subscriber's version load after its fence sees this bump. With weaker
        // orderings both could miss and the subscriber would sleep through a change.
        fence(Ordering::SeqCst);
        let wakers = self.wakers.swap(Arc::clone(&self.no_wakers));
        for waker in wakers.iter() {
            waker.wake_by_ref();
        }
    }
}

impl Registry {
    /// Returns a latest-only subscription to changes of the probes' outcomes.
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
        Subscription {
            // Ordering: Acquire pairs with `Shared::notify`.
            seen: self.shared.version.load(Ordering::Acquire),
            registry: self.clone(),
        }
    }
}

/// A latest-only subscription to changes of the probes' outcomes, like a watch channel:
/// changes that happen while the subscriber is busy coalesce into one, and a slow
/// subscriber never blocks a writer.
///
/// It wakes on changes that writes and the lifecycle cause. Staleness is judged when
/// read, so a result that merely ages is seen by the next read, not announced.
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
#[derive(Debug)]
pub struct Subscription {
    registry: Registry,
    seen: u64,
}

impl Subscription {
    /// Returns `true` if an outcome changed since the last [`mark_seen`](Self::mark_seen)
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

    /// Waits until an outcome changes, then returns the newest state.
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

    fn poll_changed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.has_changed() {
            return std::task::Poll::Ready(());
        }
        let waker = cx.waker();
        self.registry.shared.wakers.rcu(|wakers| {
            let mut wakers = Vec::clone(wakers);
            if !wakers.iter().any(|known| known.will_wake(waker)) {
                wakers.push(waker.clone());
            }
            wakers
        });
        // Ordering: pairs with the fence in `Shared::notify`; see there.
        fence(Ordering::SeqCst);
        if self.has_changed() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}
