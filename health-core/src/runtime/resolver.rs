//! Name resolution for the checks that connect by host name, one lookup at a time.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::clock::format_duration;

use super::blocking::{Lane, LaneError};

/// A blocking lookup: host (without brackets) and port to addresses.
type Lookup = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// Resolves host names for [`TcpCheck`](crate::TcpCheck) and health-http's `HttpCheck`:
/// on a thread of its own, with at most one lookup in flight.
///
/// The system resolver (`getaddrinfo`) blocks, for many seconds when DNS is down, and
/// does not stop when its caller gives up. tokio runs it on its blocking pool, so a check
/// that connects by name on every run would, through a DNS outage, leave one stuck lookup
/// behind per run until the pool (512 threads) is full and every `spawn_blocking` of the
/// application queues behind them. A `Resolver` starts a lookup only when the previous one
/// has returned: while one hangs, resolving fails at once with `name lookup still in
/// flight after 12s`, and a DNS outage costs one thread per check. The check's timeout
/// bounds the wait for a lookup, as it bounds the rest of a run.
///
/// An IP address needs no lookup and starts no thread. Clones share the one-lookup limit;
/// each `TcpCheck` and `HttpCheck` makes its own resolver.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use health_core::{Resolver, TcpCheck};
///
/// // Service discovery of your own, or a fixed answer in a test: a blocking function.
/// let resolver = Resolver::from_fn(|host, port| match host {
///     "db.internal" => Ok(vec![SocketAddr::from(([10, 0, 0, 7], port))]),
///     _ => Err(std::io::Error::other(format!("unknown host {host}"))),
/// });
/// let check = TcpCheck::new("db.internal:5432").resolver(resolver);
/// # let _ = check;
/// ```
#[derive(Clone)]
pub struct Resolver {
    lookup: Arc<Lookup>,
    lane: Arc<Lane>,
}

impl Resolver {
    /// Returns a resolver that asks the system (`getaddrinfo`: `/etc/hosts`, DNS, …).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let addresses = health_core::Resolver::system().resolve("127.0.0.1", 80).await?;
    /// assert_eq!(addresses, ["127.0.0.1:80".parse().unwrap()]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn system() -> Resolver {
        Resolver::from_fn(|host, port| (host, port).to_socket_addrs().map(Iterator::collect))
    }

    /// Returns a resolver that calls `lookup(host, port)`, a function that may block, on a
    /// thread of its own. The host has no brackets (`::1`, not `[::1]`).
    ///
    /// # Examples
    ///
    /// See [`Resolver`].
    pub fn from_fn(
        lookup: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Resolver {
        Resolver {
            lookup: Arc::new(lookup),
            lane: Arc::default(),
        }
    }

    /// Resolves `host` (a name, or an IP address with or without brackets) and `port`.
    ///
    /// # Errors
    ///
    /// The lookup's error; or, without looking up, `name lookup still in flight after …`
    /// while the previous lookup has not returned.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let resolver = health_core::Resolver::system();
    /// assert_eq!(resolver.resolve("[::1]", 443).await?, ["[::1]:443".parse().unwrap()]);
    /// # Ok(()) }
    /// ```
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let lookup = Arc::clone(&self.lookup);
        let name = host.to_owned();
        match self.lane.run(move || lookup(&name, port)).await {
            Ok(found) => found,
            Err(LaneError::Busy(running)) => Err(io::Error::other(format!(
                "name lookup still in flight after {}",
                format_duration(running)
            ))),
            Err(LaneError::Panicked(message)) => {
                Err(io::Error::other(format!("name lookup panicked: {message}")))
            }
            Err(LaneError::NoThread(err)) => Err(io::Error::other(format!(
                "could not start a name lookup thread: {err}"
            ))),
        }
    }

    /// Resolves `host` and connects to the first of its addresses that accepts.
    ///
    /// # Errors
    ///
    /// As [`resolve`](Self::resolve), or the last address's connect error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let port = listener.local_addr()?.port();
    /// let stream = health_core::Resolver::system().connect("127.0.0.1", port).await?;
    /// # drop(stream); Ok(()) }
    /// ```
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let mut last = None;
        for address in self.resolve(host, port).await? {
            match TcpStream::connect(address).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            )
        }))
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::system()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// Lookups that hang, in virtual time (see `runtime::testing`).
#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::time::{Instant, sleep_until};

    use super::Resolver;
    use crate::runtime::testing::{Driver, driven, reason, spin_until};
    use crate::{CheckSpec, Outcome, Probe, RegistryBuilder, Schedule, Status, TcpCheck};

    type Found = io::Result<Vec<SocketAddr>>;

    /// The hosts and ports a resolver was asked for, in order.
    type Asked = Arc<Mutex<Vec<(String, u16)>>>;

    const fn secs(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// A resolver whose lookups the test answers, the hosts it was asked for, its driver.
    fn scripted() -> (Resolver, Asked, Driver<Found>) {
        let (blocked, driver) = driven();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&asked);
        let resolver = Resolver::from_fn(move |host, port| {
            recorded.lock().unwrap().push((host.to_owned(), port));
            blocked
                .wait()
                .unwrap_or_else(|| Err(io::Error::other("the test ended")))
        });
        (resolver, asked, driver)
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_lookup_is_bounded_by_the_timeout_and_never_doubled() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (resolver, asked, lookups) = scripted();
        let lane = Arc::clone(&resolver.lane);
        let mut builder = RegistryBuilder::new();
        builder
            .schedule(
                CheckSpec::new("db").readiness(),
                Schedule::every(secs(10))
                    .timeout(secs(1))
                    .jitter(Duration::ZERO),
                TcpCheck::new("db.internal:5432").resolver(resolver),
            )
            .unwrap();
        let start = Instant::now();
        let (registry, _runner) = builder.spawn();

        let hung = lookups.next_call().await;
        assert_eq!(*asked.lock().unwrap(), [("db.internal".to_owned(), 5432)]);
        sleep_until(start + secs(1) + Duration::from_millis(1)).await;
        assert_eq!(
            reason(&registry, "db").as_deref(),
            Some("timed out after 1s"),
            "the run's timeout bounds the lookup"
        );
        for due in [10, 20, 30] {
            sleep_until(start + secs(due) + Duration::from_millis(1)).await;
            assert_eq!(
                reason(&registry, "db"),
                Some(format!(
                    "connect to db.internal:5432: name lookup still in flight after {due}s"
                ))
            );
            assert_eq!(
                lookups.calls(),
                1,
                "a DNS outage must cost one lookup thread"
            );
            assert!(lookups.is_idle());
        }

        // DNS comes back: the stuck lookup returns, and the next run connects.
        hung.send(Ok(vec![address])).unwrap();
        spin_until("the stuck lookup to return", || !lane.is_busy()).await;
        sleep_until(start + secs(40) + Duration::from_millis(1)).await;
        lookups.next_call().await.send(Ok(vec![address])).unwrap();
        spin_until("the check to connect", || {
            registry.check("db").unwrap().status_at(registry.now()) == Status::Healthy
        })
        .await;
        assert_eq!(lookups.calls(), 2);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    }

    #[tokio::test]
    async fn ip_addresses_are_not_looked_up() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let resolver = Resolver::from_fn(|host, _| panic!("looked up {host}"));
        resolver.connect("127.0.0.1", port).await.unwrap();
        assert_eq!(
            resolver.resolve("[::1]", 80).await.unwrap(),
            [SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 80))]
        );
    }

    #[tokio::test]
    async fn lookup_failures_and_bad_addresses_are_reasons() {
        let failing =
            Resolver::from_fn(|host, _| Err(io::Error::other(format!("no such host {host}"))));
        let empty = Resolver::from_fn(|_, _| Ok(Vec::new()));
        let panicking = Resolver::from_fn(|_, _| panic!("resolver bug"));
        let cases = [
            (
                TcpCheck::new("nowhere:1").resolver(failing.clone()),
                "connect to nowhere:1: no such host nowhere",
            ),
            (
                TcpCheck::new("void:1").resolver(empty),
                "connect to void:1: could not resolve to any address",
            ),
            (
                TcpCheck::new("buggy:1").resolver(panicking),
                "connect to buggy:1: name lookup panicked: resolver bug",
            ),
            (
                TcpCheck::new("db.internal").resolver(failing.clone()),
                "connect to db.internal: expected host:port",
            ),
            (
                TcpCheck::new(":5432").resolver(failing),
                "connect to :5432: expected host:port",
            ),
        ];
        for (check, reason) in cases {
            let report = crate::Check::check(&check).await;
            assert_eq!(report.status(), Status::Unhealthy);
            assert_eq!(report.reason(), Some(reason));
        }
    }
}
