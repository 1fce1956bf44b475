//! The standalone server: accept loop, connection bound, drain and graceful shutdown,
//! run on the caller's runtime (`.await`) or on a thread of its own ([`Serve::spawn`]).
//! Both run the same loop, [`run`].

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture, Pending, pending};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use health_core::Registry;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::{Instant, sleep, timeout};

use crate::dedicated::{ProbeServer, spawn};
#[cfg(feature = "grpc")]
use crate::grpc::{GrpcHealth, port::OnePort};
use crate::service::HealthService;

/// The pause after an accept error such as "too many open files", which clears only as
/// connections close: retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// hyper's smallest read buffer.
const MIN_BUF_SIZE: usize = 8 * 1024;

/// A bound listening socket for [`serve`]: a tokio or a std `TcpListener`.
///
/// A tokio listener is registered with the runtime that created it, and must be served
/// there or moved by [`Serve::spawn`]; a std listener needs no runtime, and is
/// registered with whichever runtime runs the server. Either converts with `into()`,
/// which [`serve`] does for you.
///
/// # Examples
///
/// ```
/// use health_http::Listener;
///
/// let listener: Listener = std::net::TcpListener::bind("127.0.0.1:0")?.into();
/// assert!(listener.local_addr()?.ip().is_loopback());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener(Bound);

#[derive(Debug)]
enum Bound {
    Tokio(TcpListener),
    Std(std::net::TcpListener),
}

impl Listener {
    /// Returns the address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`].
    ///
    /// # Examples
    ///
    /// See [`Listener`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.0 {
            Bound::Tokio(listener) => listener.local_addr(),
            Bound::Std(listener) => listener.local_addr(),
        }
    }

    /// Registers the listener with the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a runtime with I/O enabled, as [`TcpListener::from_std`].
    fn into_tokio(self) -> io::Result<TcpListener> {
        match self.0 {
            Bound::Tokio(listener) => Ok(listener),
            Bound::Std(listener) => {
                // tokio requires it, and a listener straight from `bind` is blocking.
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)
            }
        }
    }

    /// Detaches the listener from any runtime.
    fn into_std(self) -> io::Result<std::net::TcpListener> {
        match self.0 {
            Bound::Tokio(listener) => listener.into_std(),
            Bound::Std(listener) => Ok(listener),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Listener {
        Listener(Bound::Tokio(listener))
    }
}

impl From<std::net::TcpListener> for Listener {
    fn from(listener: std::net::TcpListener) -> Listener {
        Listener(Bound::Std(listener))
    }
}

/// Serves `service` on `listener` (HTTP/1.1 with keep-alive): `.await` the returned
/// [`Serve`] to run it on the current runtime, or [`spawn`](Serve::spawn) it onto a
/// thread and runtime of its own.
///
/// The caller binds the listener (tokio's or std's), so tests can use `127.0.0.1:0`.
/// Awaited, it runs until the future is dropped or, with
/// [`Serve::with_graceful_shutdown`], until a shutdown signal and drain.
///
/// # Where to run it
///
/// On the application's runtime, a probe waits behind whatever occupies its workers: a
/// CPU-heavy burst or a blocking call delays the answer past the kubelet's
/// `timeoutSeconds`, readiness flaps and liveness restarts a pod that was only busy.
/// [`Serve::spawn`] answers from a thread of its own instead, so a saturated or even
/// wedged application runtime never delays a probe (BENCHMARKS.md, "saturated"); pair it
/// with a runtime stall check ([`health_core::RuntimeStall`]) so that a wedged runtime
/// fails liveness with a reason rather than by a timeout. Embedding [`HealthService`] in
/// the application's router or awaiting `serve` on its runtime is fine for services
/// whose workers never block.
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
#[must_use = "a server does nothing until awaited or spawned"]
pub fn serve(listener: impl Into<Listener>, service: HealthService) -> Serve {
    Serve {
        listener: listener.into(),
        service,
        signal: pending(),
        config: Config {
            drain_delay: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(5),
            max_header_size: 8 * 1024,
            max_connections: 1024,
            #[cfg(feature = "grpc")]
            grpc: None,
        },
    }
}

/// A configured server; see [`serve`]. `.await` runs it on the current runtime,
/// [`spawn`](Self::spawn) on a thread of its own.
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
/// completes (or, spawned, when [`ProbeServer::begin_shutdown`] is called), readiness
/// fails at once ([`Registry::begin_shutdown`]) while the server keeps accepting and
/// answering for the [drain delay](Self::drain_delay) (5 s), so load balancers see the
/// 503 and move traffic. Then it stops accepting, marks the registry stopped
/// ([`Registry::stop`], which ends gRPC watches), asks every connection to close after
/// its answer in flight (each gets at most `header_read_timeout` to do so) and completes
/// once they have.
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
#[must_use = "a server does nothing until awaited or spawned"]
pub struct Serve<F = Pending<()>> {
    listener: Listener,
    service: HealthService,
    signal: F,
    config: Config,
}

/// The hardening settings (and the gRPC service, if any), shared by both ways of running.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    drain_delay: Duration,
    header_read_timeout: Duration,
    max_header_size: usize,
    max_connections: u32,
    #[cfg(feature = "grpc")]
    grpc: Option<GrpcHealth>,
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
            config: self.config,
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
        self.config.drain_delay = delay;
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
        self.config.header_read_timeout = timeout;
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
        self.config.max_header_size = bytes;
        self
    }

    /// Sets the most connections open at once (default 1,024, at least 1); at the
    /// bound the oldest is closed to make room (see [`Serve`]).
    ///
    /// # Examples
    ///
    /// See [`Serve`].
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.config.max_connections = connections.max(1);
        self
    }

    /// Also serves `grpc.health.v1.Health` on the same port (feature `grpc`): HTTP/1.1
    /// probes and h2c gRPC, told apart by the HTTP/2 preface, so a kubelet's `httpGet`
    /// and `grpc` probes can point at one port. gRPC gets the same hardening: its
    /// preface within the header read timeout, request heads within the header size
    /// limit, the same connection bound (each HTTP/2 connection carries at most 256 calls
    /// and is pinged every 20 s), and the same shutdown, where stopping the registry ends
    /// every watch before connections are asked to close.
    ///
    /// `grpc` should serve the same registry as the HTTP service. If it serves another,
    /// a warning says so, and the server's shutdown applies to both: their readiness
    /// fails while it drains, and both are stopped, so no watch holds the drain open.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_http::grpc::GrpcHealth;
    /// use health_http::{HealthService, serve};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let registry = health_core::Registry::builder().build();
    /// let server = serve(listener, HealthService::new(registry.clone()))
    ///     .grpc(GrpcHealth::new(registry)?);
    /// # drop(server); Ok(()) }
    /// ```
    #[cfg(feature = "grpc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub fn grpc(mut self, grpc: GrpcHealth) -> Self {
        if !grpc.registry().ptr_eq(self.service.registry()) {
            tracing::warn!(
                target: "health",
                "gRPC health serves another registry than the HTTP probes: the two can disagree"
            );
        }
        self.config.grpc = Some(grpc);
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

impl<F> Serve<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    /// Runs the server on an OS thread of its own (`health-probes`), with a
    /// current-thread tokio runtime of its own, and returns its handle.
    ///
    /// Nothing the application does with its runtime can then delay a probe: answering
    /// needs only atomic loads, and this thread runs nothing else. The server behaves
    /// exactly as when awaited (the same loop, hardening and [shutdown](Self#shutdown));
    /// it shuts down when [`ProbeServer::begin_shutdown`] is called, when the handle is
    /// dropped, or when the signal of [`with_graceful_shutdown`](Self::with_graceful_shutdown)
    /// completes (that future is polled on the server's runtime, which has I/O and time
    /// drivers, so a channel or any runtime-independent future fits).
    ///
    /// Callable inside or outside a tokio runtime. A tokio listener is moved off the
    /// runtime that created it.
    ///
    /// # Errors
    ///
    /// If the runtime, the listener's registration or the thread cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::{Phase, Registry};
    /// use health_http::{HealthService, serve};
    ///
    /// // No runtime needed: the server brings its own.
    /// let registry = Registry::builder().build();
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let probes = serve(listener, HealthService::new(registry.clone()))
    ///     .drain_delay(Duration::ZERO)
    ///     .spawn()?;
    /// let mut stream = std::net::TcpStream::connect(probes.local_addr())?;
    /// # let _ = &mut stream;
    /// probes.shutdown(); // readiness fails, the server drains, stops, and its thread ends
    /// assert_eq!(registry.phase(), Phase::Stopped);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self) -> io::Result<ProbeServer> {
        spawn(self.listener, self.service, self.config, self.signal)
    }
}

impl<F> fmt::Debug for Serve<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Serve");
        debug
            .field("listener", &self.listener)
            .field("service", &self.service)
            .field("drain_delay", &self.config.drain_delay)
            .field("header_read_timeout", &self.config.header_read_timeout)
            .field("max_header_size", &self.config.max_header_size)
            .field("max_connections", &self.config.max_connections);
        #[cfg(feature = "grpc")]
        debug.field("grpc", &self.config.grpc);
        debug.finish_non_exhaustive()
    }
}

impl<F> IntoFuture for Serve<F>
where
    F: Future<Output = ()> + Send + 'static,
{
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            // Here, not in `serve`: only now is the runtime that serves known.
            match self.listener.into_tokio() {
                Ok(listener) => run(listener, self.service, self.config, self.signal).await,
                Err(err) => {
                    tracing::error!(target: "health", error = %err, "cannot register the listener: not serving");
                }
            }
        })
    }
}

impl Listener {
    /// Moves the listener to `runtime`'s reactor.
    pub(crate) fn register_with(
        self,
        runtime: &tokio::runtime::Runtime,
    ) -> io::Result<TcpListener> {
        let listener = self.into_std()?;
        let _entered = runtime.enter();
        Listener::from(listener).into_tokio()
    }
}

/// Why a connection is asked to close.
#[derive(Clone, Copy)]
pub(crate) enum Close {
    Evict,
    Shutdown,
}

/// The server loop, however it is run: accepts until `signal`, drains, closes every
/// connection and marks the registry stopped.
pub(crate) async fn run<F>(listener: TcpListener, service: HealthService, config: Config, signal: F)
where
    F: Future<Output = ()>,
{
    let registry = service.registry().clone();
    // The gRPC service's registry when it is another one (see `Serve::grpc`): the server's
    // shutdown is its shutdown too.
    #[cfg(feature = "grpc")]
    let other = config
        .grpc
        .as_ref()
        .map(|grpc| grpc.registry().clone())
        .filter(|other| !other.ptr_eq(&registry));
    #[cfg(not(feature = "grpc"))]
    let other: Option<Registry> = None;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_header_size(config.max_header_size)
        .max_buf_size(config.max_header_size.max(MIN_BUF_SIZE));
    #[cfg(feature = "grpc")]
    let one_port = config.grpc.as_ref().map(|grpc| {
        OnePort::new(
            grpc.clone(),
            config.header_read_timeout,
            config.max_header_size,
        )
    });
    let slots = Arc::new(Semaphore::new(config.max_connections as usize));
    // Oldest first; the accept loop is its only user, so it needs no lock. A sender
    // whose connection ended is closed and skipped.
    let mut open: VecDeque<oneshot::Sender<Close>> = VecDeque::new();
    let mut signal = pin!(signal);
    let drain = sleep(Duration::ZERO);
    let mut drain = pin!(drain);
    let mut draining = false;
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut signal, if !draining => {
                draining = true;
                registry.begin_shutdown();
                other.iter().for_each(Registry::begin_shutdown);
                tracing::info!(target: "health", delay = ?config.drain_delay, "draining: readiness fails, still answering");
                drain.as_mut().reset(Instant::now() + config.drain_delay);
                continue;
            }
            () = &mut drain, if draining => break,
            accepted = listener.accept() => accepted,
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
        if open.len() >= 2 * config.max_connections as usize {
            open.retain(|close| !close.is_closed());
        }
        let (close, closed) = oneshot::channel();
        open.push_back(close);
        let accepted = Accepted {
            slot,
            closed,
            grace: config.header_read_timeout,
            peer,
        };
        let stream = nodelay(stream);
        #[cfg(feature = "grpc")]
        if let Some(one_port) = &one_port {
            let serving =
                one_port
                    .clone()
                    .serve(stream, service.with_peer(peer), http.clone(), accepted);
            tokio::spawn(serving);
            continue;
        }
        let connection = http.serve_connection(TokioIo::new(stream), service.with_peer(peer));
        tokio::spawn(drive(connection, accepted));
    }
    drop(listener);
    tracing::info!(target: "health", "drained: stopped accepting, closing connections");
    // Before the connections are asked to close: it ends gRPC watches, which would hold
    // their connections open.
    registry.stop();
    other.iter().for_each(Registry::stop);
    for close in open {
        let _ = close.send(Close::Shutdown);
    }
    // Every connection holds a slot until it ends.
    let _ = slots.acquire_many(config.max_connections).await;
}

/// An accepted connection's place in the server.
pub(crate) struct Accepted {
    /// Its slot under the connection bound, held until it ends.
    slot: OwnedSemaphorePermit,
    /// Asks it to close.
    pub(crate) closed: oneshot::Receiver<Close>,
    /// How long it may take to close when asked.
    grace: Duration,
    pub(crate) peer: SocketAddr,
}

/// Runs one connection until it ends, or until it is asked to close: then it closes
/// at once if idle, after its answers in flight if busy, and is dropped if that takes
/// longer than the grace (a client that never reads its answer).
pub(crate) async fn drive<C>(connection: C, accepted: Accepted)
where
    C: GracefulConnection,
    C::Error: fmt::Display,
{
    let Accepted {
        slot: _slot,
        closed,
        grace,
        peer,
    } = accepted;
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
    connection.as_mut().graceful_shutdown();
    if timeout(grace, connection).await.is_err() {
        tracing::debug!(target: "health", %peer, "connection did not close in time: dropped");
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
