//! Watch: one wake-up source per service, a latest-only stream per watcher.
//!
//! Each target (a name's status: `""`, a probe, a check) has a `tokio::sync::watch`
//! channel holding its last published status. One task per service, the *hub*, re-reads
//! the targets that have watchers whenever the registry announces a change and once a
//! [`REREAD`] period besides, and publishes the statuses that changed. A watcher is a
//! receiver and its last sent status: no task, no queue, no registry subscription of its
//! own. When its stream is polled it takes the newest value, so statuses published while
//! a client is not reading coalesce into the latest, and it skips a value equal to the
//! one it last sent, so a client never gets the same status twice in a row.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use health_core::{Phase, Subscription};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_stream::Stream;
use tonic::Status;

use super::Shared;
use super::pb::HealthCheckResponse;
use super::pb::health_check_response::ServingStatus;

/// How often the hub re-reads statuses without being woken. Staleness (heartbeats,
/// `max_age`) is judged when read and never announced, so only a periodic read notices a
/// check going stale; a second is finer than any kubelet period.
pub(crate) const REREAD: Duration = Duration::from_secs(1);

/// What a target's channel holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Published {
    Status(ServingStatus),
    /// The registry stopped: send `NOT_SERVING` (if not already sent), then end.
    Closed,
}

/// The watch side of a service: a channel per target and the bound on open watches.
pub(crate) struct Watchers {
    /// One per target in `Names::targets` order, then one for unknown names.
    senders: Box<[watch::Sender<Published>]>,
    permits: Arc<Semaphore>,
    max: usize,
    hub: Mutex<Option<JoinHandle<()>>>,
}

impl Watchers {
    /// The watch side of `targets` targets, with at most `max` watches open.
    pub(crate) fn new(targets: usize, max: usize) -> Watchers {
        // A target's first value is never seen: `open_watch` publishes the status now
        // before it subscribes, and the hub publishes only targets that have receivers.
        // So no status need be read here; `UNKNOWN` only fills the slot.
        let senders = std::iter::repeat_n(ServingStatus::Unknown, targets)
            .chain([ServingStatus::ServiceUnknown])
            .map(|status| watch::Sender::new(Published::Status(status)))
            .collect();
        Watchers {
            senders,
            permits: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
            hub: Mutex::new(None),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Returns the number of open watches.
    pub(crate) fn open(&self) -> usize {
        self.max.min(Semaphore::MAX_PERMITS) - self.permits.available_permits()
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        // The hub holds only a weak reference and would notice within a `REREAD`; this
        // ends it at once.
        if let Some(hub) = self.hub.get_mut().unwrap_or_else(PoisonError::into_inner) {
            hub.abort();
        }
    }
}

impl Shared {
    /// Opens a watch of the target at `index`, or of an unknown name if `None`.
    pub(crate) fn open_watch(&self, index: Option<usize>) -> Result<WatchStream, Status> {
        if self.registry.phase() == Phase::Stopped {
            return Ok(WatchStream::closed());
        }
        let watchers = &self.watchers;
        let Ok(permit) = Arc::clone(&watchers.permits).try_acquire_owned() else {
            tracing::debug!(target: "health", max = watchers.max, "gRPC watch refused: too many open");
            return Err(Status::resource_exhausted(format!(
                "too many health watches open (max_watches = {})",
                watchers.max
            )));
        };
        self.start_hub();
        let receiver = match index {
            Some(index) => {
                // The hub may not have run since the last change it was not woken for:
                // the first message must be the status now.
                self.publish(index);
                watchers.senders[index].subscribe()
            }
            None => watchers.senders[watchers.senders.len() - 1].subscribe(),
        };
        Ok(WatchStream {
            updates: tokio_stream::wrappers::WatchStream::new(receiver),
            last: None,
            permit: Some(permit),
            ended: false,
        })
    }

    /// Starts the hub on the current runtime unless it runs; again if its runtime ended.
    fn start_hub(&self) {
        let mut hub = self
            .watchers
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if hub.as_ref().is_none_or(JoinHandle::is_finished) {
            *hub = Some(tokio::spawn(run_hub(
                Weak::clone(&self.me),
                self.registry.subscribe(),
            )));
        }
    }

    /// Re-reads the target at `index` and publishes its status if it changed.
    fn publish(&self, index: usize) {
        let target = &self.names.targets()[index];
        // The status is read under the channel's lock, so publications of one target are
        // in the order of their reads: a slower publisher can never overwrite a newer
        // status with the older one it read first.
        self.watchers.senders[index].send_if_modified(|published| {
            if *published == Published::Closed {
                return false;
            }
            let now = Published::Status(target.status(&self.registry));
            std::mem::replace(published, now) != now
        });
    }

    /// Re-reads every target that has watchers.
    fn publish_all(&self) {
        let targets = self.names.targets().len();
        for index in 0..targets {
            if self.watchers.senders[index].receiver_count() > 0 {
                self.publish(index);
            }
        }
    }

    /// Ends every watch: each sends `NOT_SERVING` unless it just did, then ends.
    fn close_all(&self) {
        for sender in &self.watchers.senders {
            sender.send_replace(Published::Closed);
        }
    }
}

/// The hub: wakes on the registry's announcements and every [`REREAD`], publishes what
/// changed, and closes every watch once the registry is stopped.
async fn run_hub(shared: Weak<Shared>, mut subscription: Subscription) {
    let mut reread = tokio::time::interval(REREAD);
    reread.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = subscription.changed() => {}
            _ = reread.tick() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.registry.phase() == Phase::Stopped {
            shared.close_all();
            return;
        }
        shared.publish_all();
    }
}

/// The response stream of one Watch call.
pub(crate) struct WatchStream {
    updates: tokio_stream::wrappers::WatchStream<Published>,
    /// The status last sent, if any.
    last: Option<ServingStatus>,
    /// Held while the stream is open: its slot under `max_watches`.
    permit: Option<OwnedSemaphorePermit>,
    /// Closed and its last message sent: the next poll ends the stream.
    ended: bool,
}

impl WatchStream {
    /// A watch opened after the registry stopped: `NOT_SERVING`, then the end.
    fn closed() -> WatchStream {
        let (_, receiver) = watch::channel(Published::Closed);
        WatchStream {
            updates: tokio_stream::wrappers::WatchStream::new(receiver),
            last: None,
            permit: None,
            ended: false,
        }
    }
}

impl Stream for WatchStream {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            let status = match ready!(Pin::new(&mut this.updates).poll_next(cx)) {
                Some(Published::Status(status)) if this.last != Some(status) => status,
                Some(Published::Status(_)) => continue,
                // `None`: the service was dropped, which ends watches as a stop does.
                Some(Published::Closed) | None => {
                    this.ended = true;
                    this.permit = None;
                    if this.last == Some(ServingStatus::NotServing) {
                        return Poll::Ready(None);
                    }
                    ServingStatus::NotServing
                }
            };
            this.last = Some(status);
            return Poll::Ready(Some(Ok(HealthCheckResponse {
                status: status as i32,
            })));
        }
    }
}
