//! The standalone server: accept loop, connection bound, drain and graceful shutdown.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture, Pending, pending};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::{Instant, sleep, timeout};

use crate::service::HealthService;

/// The pause after an accept error such as "too many open files", which clears only as
/// connections close: retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// hyper's smallest read buffer.
const MIN_BUF_SIZE: usize = 8 * 1024;

/// Serves `service` on `listener` (HTTP/1.1 with keep-alive) until the future is dropped
/// or, with [`Serve::with_graceful_shutdown`], until a shutdown signal and drain.
///
/// The returned [`Serve`] is configured with its builder methods and run by `.await`.
/// The caller binds the listener, so tests can use `127.0.0.1:0`.
///
/// # Examples
///
/// ```
/// use health_http::{HealthService, serve};
/// use tokio::net::TcpListener;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let registry = health_core::Registry::builder().build();
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let server = tokio::spawn(serve(listener, HealthService::new(registry)).into_future());
/// # server.abort(); Ok(()) }
/// ```
#[must_use = "a server does nothing until awaited"]
pub fn serve(listener: TcpListener, service: HealthService) -> Serve {
    Serve {
        listener,
        service,
        signal: pending(),
        drain_delay: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(5),
        max_header_size: 8 * 1024,
        max_connections: 1024,
    }
}

/// A configured server; see [`serve`]. `.await` runs it.
///
/// Hardening, with the defaults:
/// - [`header_read_timeout`](Self::header_read_timeout) (5 s) bounds a request head and
///   an idle keep-alive connection, so a slow or silent client cannot hold a connection;
/// - [`max_header_size`](Self::max_header_size) (8 KiB) answers larger heads with 431;
/// - [`max_connections`](Self::max_connections) (1,024) bounds open connections
///   without starving probes: at the bound the *oldest* connection is closed at once to
///   make room (cleanly if idle, cut off if a client is still sending its head). A
///   kubelet opens a fresh connection for every probe, so refusing or queueing new
///   connections would starve exactly the probes, while the oldest connection is the one
///   most likely idle or hostile; and closing it at once means a flood of slow clients
///   cannot slow the accept loop down.
///
/// Malformed requests get hyper's 400 (431, 414) or a closed connection; the service
/// itself never fails.
///
/// # Shutdown
///
/// When the signal given to [`with_graceful_shutdown`](Self::with_graceful_shutdown)
/// completes, readiness fails at once ([`Registry::begin_shutdown`]) while the server
/// keeps accepting and answering for the [drain delay](Self::drain_delay) (5 s), so load
/// balancers see the 503 and move traffic. Then it stops accepting, asks every connection
/// to close after its answer in flight (each gets at most `header_read_timeout` to do
/// so), marks the registry stopped ([`Registry::stop`]) and completes.
///
/// [`Registry::begin_shutdown`]: health_core::Registry::begin_shutdown
/// [`Registry::stop`]: health_core::Registry::stop
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_http::{HealthService, serve};
/// use tokio::net::TcpListener;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let registry = health_core::Registry::builder().build();
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// serve(listener, HealthService::new(registry.clone()))
///     .drain_delay(Duration::ZERO)
///     .max_connections(64)
///     .with_graceful_shutdown(async {}) // e.g. tokio::signal::ctrl_c()
///     .await;
/// assert_eq!(registry.phase(), health_core::Phase::Stopped);
/// # Ok(()) }
/// ```
#[must_use = "a server does nothing until awaited"]
pub struct Serve<F = Pending<()>> {
    listener: TcpListener,
    service: HealthService,
    signal: F,
    drain_delay: Duration,
    header_read_timeout: Duration,
    max_header_size: usize,
    max_connections: u32,
}

impl<F> Serve<F> {
    /// Shuts down gracefully when `signal` completes: readiness fails, the server drains
    /// for the drain delay, then stops (see [Shutdown](Self#shutdown)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_http::{HealthService, serve};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let service = HealthService::new(health_core::Registry::builder().build());
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(
    ///     serve(listener, service)
    ///         .drain_delay(std::time::Duration::ZERO)
    ///         .with_graceful_shutdown(async { stopped.await.ok(); })
    ///         .into_future(),
    /// );
    /// stop.send(()).unwrap();
    /// server.await.unwrap();
    /// # Ok(()) }
    /// ```
    pub fn with_graceful_shutdown<G>(self, signal: G) -> Serve<G>
    where
        G: Future<Output = ()> + Send + 'static,
    {
        Serve {
            listener: self.listener,
            service: self.service,
            signal,
            drain_delay: self.drain_delay,
            header_read_timeout: self.header_read_timeout,
            max_header_size: self.max_header_size,
            max_connections: self.max_connections,
        }
    }

    /// Sets how long the server keeps answering, with readiness failing, between the
    /// shutdown signal and closing the listener (default 5 s). Keep it below the pod's
    /// `terminationGracePeriodSeconds`; `Duration::ZERO` suits local runs.
    ///
    /// # Examples
    ///
    /// See [`Serve`].
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.drain_delay = delay;
        self
    }

    /// Sets how long a client may take to send a request head, and how long a
    /// keep-alive connection may sit idle (default 5 s).
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_http::{HealthService, serve};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let service = HealthService::new(health_core::Registry::builder().build());
    /// let server = serve(listener, service).header_read_timeout(std::time::Duration::from_secs(2));
    /// # drop(server); Ok(()) }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the largest request head accepted, request line included (default 8 KiB);
    /// a larger one gets 431 and the connection is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_http::{HealthService, serve};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let service = HealthService::new(health_core::Registry::builder().build());
    /// let server = serve(listener, service).max_header_size(4 * 1024);
    /// # drop(server); Ok(()) }
    /// ```
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = bytes;
        self
    }

    /// Sets the most connections open at once (default 1,024, at least 1); at the
    /// bound the oldest is closed to make room (see [`Serve`]).
    ///
    /// # Examples
    ///
    /// See [`Serve`].
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Returns the address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_http::{HealthService, serve};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let service = HealthService::new(health_core::Registry::builder().build());
    /// let server = serve(listener, service);
    /// assert!(server.local_addr()?.ip().is_loopback());
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl<F> fmt::Debug for Serve<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("service", &self.service)
            .field("drain_delay", &self.drain_delay)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_header_size", &self.max_header_size)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl<F> IntoFuture for Serve<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Why a connection is asked to close.
#[derive(Clone, Copy)]
enum Close {
    Evict,
    Shutdown,
}

impl<F> Serve<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    async fn run(self) {
        let registry = self.service.registry().clone();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_size)
            .max_buf_size(self.max_header_size.max(MIN_BUF_SIZE));
        let slots = Arc::new(Semaphore::new(self.max_connections as usize));
        // Oldest first; the accept loop is its only user, so it needs no lock. A sender
        // whose connection ended is closed and skipped.
        let mut open: VecDeque<oneshot::Sender<Close>> = VecDeque::new();
        let mut signal = pin!(self.signal);
        let drain = sleep(Duration::ZERO);
        let mut drain = pin!(drain);
        let mut draining = false;
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut signal, if !draining => {
                    draining = true;
                    registry.begin_shutdown();
                    tracing::info!(target: "health", delay = ?self.drain_delay, "draining: readiness fails, still answering");
                    drain.as_mut().reset(Instant::now() + self.drain_delay);
                    continue;
                }
                () = &mut drain, if draining => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(target: "health", error = %err, "accept failed");
                    sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let slot = if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                slot
            } else {
                evict_oldest(&mut open);
                // Only until the evicted connection's task runs: it ends on its next poll.
                Arc::clone(&slots)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            };
            if open.len() >= 2 * self.max_connections as usize {
                open.retain(|close| !close.is_closed());
            }
            let (close, closed) = oneshot::channel();
            open.push_back(close);
            let grace = self.header_read_timeout;
            let connection =
                http.serve_connection(TokioIo::new(nodelay(stream)), self.service.with_peer(peer));
            tokio::spawn(async move {
                let _slot: OwnedSemaphorePermit = slot;
                let mut connection = pin!(connection);
                let grace = tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(target: "health", %peer, error = %err, "connection error");
                        }
                        return;
                    }
                    // A dropped sender means the server future was dropped: close too.
                    close = closed => match close {
                        // One last poll: enough for an idle connection to close cleanly.
                        Ok(Close::Evict) => Duration::ZERO,
                        Ok(Close::Shutdown) | Err(_) => grace,
                    },
                };
                // Idle connections close at once, busy ones after their answer; a client
                // that never reads its answer is cut off after the grace.
                connection.as_mut().graceful_shutdown();
                if timeout(grace, connection).await.is_err() {
                    tracing::debug!(target: "health", %peer, "connection did not close in time: dropped");
                }
            });
        }
        drop(self.listener);
        tracing::info!(target: "health", "drained: stopped accepting, closing connections");
        for close in open {
            let _ = close.send(Close::Shutdown);
        }
        // Every connection holds a slot until it ends.
        let _ = slots.acquire_many(self.max_connections).await;
        registry.stop();
    }
}

/// Asks the oldest open connection to close.
fn evict_oldest(open: &mut VecDeque<oneshot::Sender<Close>>) {
    while let Some(close) = open.pop_front() {
        if close.send(Close::Evict).is_ok() {
            tracing::debug!(target: "health", "connection bound reached: closing the oldest");
            return;
        }
    }
}

/// Answers are one small write each: Nagle's algorithm would only hold them back.
fn nodelay(stream: TcpStream) -> TcpStream {
    let _ = stream.set_nodelay(true);
    stream
}
