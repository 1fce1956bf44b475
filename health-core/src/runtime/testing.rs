//! Test support for the runner's unit tests: reading a check's reason, and blocking work
//! under paused time.
//!
//! A blocking function runs on a real thread, which paused time does not wait for: the
//! test drives every call through channels, and while a thread works the test spins on
//! `yield_now`, which keeps the runtime busy so that virtual time stands still (tokio
//! advances it only when every task waits). The spins are bounded in real time only to
//! fail rather than hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::Registry;

/// The reason of the check `name` now, if it has one.
pub(crate) fn reason(registry: &Registry, name: &str) -> Option<String> {
    let snapshot = registry.check(name)?.snapshot_at(registry.now());
    snapshot.reason().map(str::to_owned)
}

/// Yields until `condition` holds: virtual time stands still meanwhile.
pub(crate) async fn spin_until(what: &str, mut condition: impl FnMut() -> bool) {
    let limit = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < limit,
            "{what}: not within 10 s of real time"
        );
        tokio::task::yield_now().await;
    }
}

/// The blocked side of a driven function: each call announces itself and blocks its
/// thread until the test answers.
pub(crate) struct Blocked<A> {
    announce: mpsc::Sender<mpsc::Sender<A>>,
    calls: Arc<AtomicUsize>,
}

impl<A> Blocked<A> {
    /// Announces a call and waits for its answer; `None` once the test has dropped it.
    pub(crate) fn wait(&self) -> Option<A> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (answer, wait) = mpsc::channel();
        let _ = self.announce.send(answer);
        wait.recv().ok()
    }
}

/// The test's side of a driven function.
pub(crate) struct Driver<A> {
    entered: mpsc::Receiver<mpsc::Sender<A>>,
    calls: Arc<AtomicUsize>,
}

/// A driven function's two sides.
pub(crate) fn driven<A>() -> (Blocked<A>, Driver<A>) {
    let (announce, entered) = mpsc::channel();
    let calls = Arc::new(AtomicUsize::new(0));
    (
        Blocked {
            announce,
            calls: Arc::clone(&calls),
        },
        Driver { entered, calls },
    )
}

impl<A> Driver<A> {
    /// Waits, in no virtual time, for the next call; returns its answer line.
    pub(crate) async fn next_call(&self) -> mpsc::Sender<A> {
        let mut call = None;
        spin_until("a call to start", || {
            call = self.entered.try_recv().ok();
            call.is_some()
        })
        .await;
        call.expect("spin_until returned")
    }

    /// Returns how many calls started.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Returns `true` if no call is waiting to be answered.
    pub(crate) fn is_idle(&self) -> bool {
        self.entered.try_recv().is_err()
    }
}
