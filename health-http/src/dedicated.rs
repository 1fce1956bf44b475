//! The dedicated probe server: [`run`](crate::serve::run) on an OS thread of its own,
//! with a current-thread runtime of its own, and the handle that stops and joins it.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::serve::{Config, Listener, run};
use crate::service::HealthService;

/// The name of the server's thread, as `top -H` and debuggers show it.
const THREAD_NAME: &str = "health-probes";

/// The handle of a probe server running on its own thread; see [`Serve::spawn`].
///
/// [`begin_shutdown`](Self::begin_shutdown) starts the [graceful
/// shutdown](crate::Serve#shutdown) from any thread or runtime and returns at once;
/// [`join`](Self::join) waits for it to finish; [`shutdown`](Self::shutdown) does both.
///
/// # Dropping the handle
///
/// Dropping it begins the graceful shutdown, without waiting for it: the server drains
/// and stops on its own thread. A server nobody can stop any more would otherwise keep
/// answering, readiness green, for a process that believes it has shut down. Keep the
/// handle for as long as probes should be answered (in `main`, typically), and call
/// [`shutdown`](Self::shutdown) to wait for the drain.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{Phase, Registry};
/// use health_http::{HealthService, serve};
///
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let registry = Registry::builder().build();
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let probes = serve(listener, HealthService::new(registry.clone()))
///     .drain_delay(Duration::ZERO)
///     .spawn()?;
/// println!("probes on http://{}", probes.local_addr());
///
/// // On SIGTERM: readiness fails at once; the drain runs on the probe thread.
/// probes.begin_shutdown();
/// assert!(registry.phase() >= Phase::Draining);
/// // In async code, wait off the runtime's workers.
/// tokio::task::spawn_blocking(move || probes.join()).await.unwrap();
/// assert_eq!(registry.phase(), Phase::Stopped);
/// # Ok(()) }
/// ```
///
/// [`Serve::spawn`]: crate::Serve::spawn
#[must_use = "dropping a ProbeServer shuts the server down"]
pub struct ProbeServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    service: HealthService,
    /// `None` once joined.
    thread: Option<JoinHandle<()>>,
}

impl ProbeServer {
    /// Returns the address the server listens on.
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Begins the graceful shutdown and returns at once: readiness fails from now on,
    /// the server keeps answering for its drain delay, then stops. Idempotent; callable
    /// from any thread, inside or outside any runtime.
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    pub fn begin_shutdown(&self) {
        // Readiness fails as this returns, not when the server's thread next runs: the
        // loop calls it again on seeing the signal, which is idempotent.
        self.service.registry().begin_shutdown();
        self.shutdown.send_replace(true);
    }

    /// Waits until the server has stopped (after a shutdown begun by
    /// [`begin_shutdown`](Self::begin_shutdown) or by the signal given to
    /// [`Serve::with_graceful_shutdown`]) and its thread has ended.
    ///
    /// It blocks the calling thread: in async code, call it through
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Panics
    ///
    /// With the server thread's panic, if it panicked (a bug: the server itself never
    /// panics on any input).
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    ///
    /// [`Serve::with_graceful_shutdown`]: crate::Serve::with_graceful_shutdown
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
        {
            std::panic::resume_unwind(panic);
        }
    }

    /// Begins the graceful shutdown and waits for it to finish: [`begin_shutdown`]
    /// then [`join`].
    ///
    /// # Panics
    ///
    /// As [`join`].
    ///
    /// # Examples
    ///
    /// See [`Serve::spawn`](crate::Serve::spawn).
    ///
    /// [`begin_shutdown`]: Self::begin_shutdown
    /// [`join`]: Self::join
    pub fn shutdown(self) {
        self.begin_shutdown();
        self.join();
    }

    /// Returns `true` once the server has stopped and its thread has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # let registry = health_core::Registry::builder().build();
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let probes = health_http::serve(listener, health_http::HealthService::new(registry)).spawn()?;
    /// assert!(!probes.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ProbeServer {
    fn drop(&mut self) {
        if !self.is_finished() && !*self.shutdown.borrow() {
            tracing::info!(target: "health", "probe server handle dropped: shutting the server down");
            self.begin_shutdown();
        }
    }
}

impl fmt::Debug for ProbeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeServer")
            .field("addr", &self.addr)
            .field("shutting_down", &*self.shutdown.borrow())
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Starts [`run`] on a thread of its own; see [`Serve::spawn`](crate::Serve::spawn).
pub(crate) fn spawn<F>(
    listener: Listener,
    service: HealthService,
    config: Config,
    signal: F,
) -> io::Result<ProbeServer>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = Background(Some(
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?,
    ));
    // Registered here, on the calling thread, so that a failure is returned rather than
    // logged on the server's thread.
    let listener = listener.register_with(runtime.get())?;
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = watch::channel(false);
    let signal = async move {
        tokio::select! {
            () = signal => {}
            // `Err`: the handle is gone (dropped while unwinding): shut down too.
            _ = stop.wait_for(|&stop| stop) => {}
        }
    };
    let served = service.clone();
    let thread = std::thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || {
            runtime
                .get()
                .block_on(run(listener, served, config, signal));
        })?;
    tracing::info!(target: "health", %addr, "probe server started on its own thread");
    Ok(ProbeServer {
        addr,
        shutdown,
        service,
        thread: Some(thread),
    })
}

/// Owns a runtime and drops it without waiting for its blocking threads.
///
/// `Runtime`'s own drop panics inside an async context, which is where [`spawn`]'s
/// error paths may run (a caller on the application's runtime): this one never does.
/// On the server's thread, the loop has already waited for every connection.
struct Background(Option<Runtime>);

impl Background {
    fn get(&self) -> &Runtime {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
