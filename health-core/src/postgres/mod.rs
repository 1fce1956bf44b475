//! PostgreSQL checks through the service's own connection pool: one logic for every
//! backend (features `sqlx` and `deadpool-postgres`), each backend only saying how its
//! pool hands out, runs on and drops a connection.
//!
//! A run reads the pool's counters, then takes a connection **without queueing**: an idle
//! one, or a new one while the pool is below its maximum. A full pool is Degraded ("the
//! database is fine, the service is busy"), never a reason to restart or unroute a pod
//! that is merely loaded. On the connection it sends one simple-protocol query (no named
//! prepared statement, so it is safe behind pgbouncer in transaction mode) and gives the
//! connection back only if the query finished cleanly; dropped any other way (the
//! runner's deadline, an error) the connection is taken out of the pool and closed, so the
//! application never receives one with half a conversation on it.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::io;

use tokio::time::Instant;

use crate::report::Report;

#[cfg(feature = "deadpool-postgres")]
mod deadpool;
#[cfg(feature = "sqlx")]
mod sqlx;

/// What a check sends when no query is configured.
const DEFAULT_QUERY: &str = "SELECT 1";

/// A PostgreSQL readiness check that runs on the application's own pool: an
/// [`sqlx::PgPool`](https://docs.rs/sqlx/0.9/sqlx/type.PgPool.html) (feature `sqlx`) or a
/// [`deadpool_postgres::Pool`](https://docs.rs/deadpool-postgres/0.14/deadpool_postgres/type.Pool.html)
/// (feature `deadpool-postgres`), with a configurable query.
///
/// The pool types themselves implement [`Check`](crate::Check) the same way with `SELECT 1`, so a state
/// struct needs no wrapper: `#[health(readiness)] db: PgPool`. Use `PgCheck` for another
/// query.
///
/// Every run:
/// - takes a connection without waiting in the pool's queue: an idle one, or a new one
///   while the pool may still grow (opened the way the pool opens its own). A full pool
///   reports **Degraded** "pool exhausted: N/N connections in use": the database answers,
///   the service is busy, and neither a restart nor losing traffic would help;
/// - sends the query on the simple protocol (no named prepared statements: safe behind
///   pgbouncer in transaction mode), and measures its round trip;
/// - gives the connection back only after a clean answer: a connection abandoned at the
///   runner's deadline or after an error is taken out of the pool and closed, never
///   handed to the application half-used. A pooled connection found dead (a restarted
///   server, `pg_terminate_backend`) is replaced within the same run;
/// - reports the round trip in ms as the observed value, and the pool's `pool_size`,
///   `pool_idle`, `pool_in_use`, `pool_max` (and `pool_waiting` where the pool counts its
///   waiters) as [measurements](Report::measurements), read before it took its
///   connection;
/// - names a failure (`connection refused by 127.0.0.1:5432`, `authentication failed:
///   …`, `query failed: …`, `connection lost: …`; a hung server is cut off by the
///   runner's "timed out after …") without the URL or its password.
///
/// Run it on readiness only, with a timeout of a second or two (far below the pools'
/// own 30 s acquire timeouts) and an interval of 10–30 s.
///
/// # Examples
///
/// The pool on a state struct, as it is:
///
/// ```
/// # #[cfg(all(feature = "sqlx", feature = "derive"))] mod example {
/// use std::sync::Arc;
/// use health_core::{HealthCheck, Runner};
/// use sqlx::PgPool;
///
/// #[derive(HealthCheck)]
/// struct AppState {
///     #[health(readiness, timeout = "1s", interval = "10s")]
///     db: PgPool,
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let db = PgPool::connect_lazy("postgres://app:secret@db.internal/app")?;
///     let state = Arc::new(AppState { db });
///     let (registry, runner) = Runner::spawn(&state)?;
///     assert_eq!(runner.len(), 1);
///     # drop(registry);
///     Ok(())
/// }
/// # }
/// # fn main() {
/// #     #[cfg(all(feature = "sqlx", feature = "derive"))]
/// #     example::main().unwrap();
/// # }
/// ```
///
/// Another query, registered by hand:
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, PgCheck, Registry, Schedule};
///
/// # #[cfg(feature = "sqlx")]
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect_lazy("postgres://app@db.internal/app")?;
/// let check = PgCheck::new(pool).query("SELECT 1 FROM pg_tables LIMIT 1");
/// assert_eq!(check.sql(), "SELECT 1 FROM pg_tables LIMIT 1");
/// let mut builder = Registry::builder();
/// builder.schedule(
///     CheckSpec::new("db").readiness(),
///     Schedule::every(Duration::from_secs(10)).timeout(Duration::from_secs(1)),
///     check,
/// )?;
/// # Ok(()) }
/// # #[cfg(not(feature = "sqlx"))] fn main() {}
/// ```
#[derive(Clone, Debug)]
pub struct PgCheck<P> {
    pool: P,
    query: Cow<'static, str>,
}

impl<P> PgCheck<P> {
    /// Creates a check of `pool` that sends `SELECT 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "sqlx")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = sqlx::PgPool::connect_lazy("postgres://app@db.internal/app").unwrap();
    /// let check = health_core::PgCheck::new(pool);
    /// assert_eq!(check.sql(), "SELECT 1");
    /// # }
    /// # #[cfg(not(feature = "sqlx"))] fn main() {}
    /// ```
    #[must_use]
    pub fn new(pool: P) -> PgCheck<P> {
        PgCheck {
            pool,
            query: Cow::Borrowed(DEFAULT_QUERY),
        }
    }

    /// Sets the query, sent on the simple protocol: one or more statements, no
    /// parameters, no named prepared statement. Its rows are read and discarded; an
    /// error the server returns fails the check with its message.
    ///
    /// # Examples
    ///
    /// See [`PgCheck`].
    #[must_use]
    pub fn query(mut self, sql: impl Into<Cow<'static, str>>) -> PgCheck<P> {
        self.query = sql.into();
        self
    }

    /// Returns the query.
    ///
    /// # Examples
    ///
    /// See [`PgCheck::new`].
    #[must_use]
    pub fn sql(&self) -> &str {
        &self.query
    }

    /// Returns the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "sqlx")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = sqlx::PgPool::connect_lazy("postgres://app@db.internal/app").unwrap();
    /// let check = health_core::PgCheck::new(pool);
    /// assert_eq!(check.pool().size(), 0); // lazy: nothing opened yet
    /// # }
    /// # #[cfg(not(feature = "sqlx"))] fn main() {}
    /// ```
    #[must_use]
    pub fn pool(&self) -> &P {
        &self.pool
    }
}

/// `Check` for a pool type (with `SELECT 1`) and for [`PgCheck`] of it: one definition
/// for every backend.
macro_rules! pool_checks {
    ($pool:ty) => {
        impl $crate::Check for $pool {
            const KIND: $crate::CheckKind = $crate::CheckKind::Dependency;

            fn check(&self) -> impl ::std::future::Future<Output = $crate::Report> + Send {
                $crate::postgres::probe(self, $crate::postgres::DEFAULT_QUERY)
            }
        }

        impl $crate::Check for $crate::PgCheck<$pool> {
            const KIND: $crate::CheckKind = $crate::CheckKind::Dependency;

            fn check(&self) -> impl ::std::future::Future<Output = $crate::Report> + Send {
                $crate::postgres::probe(self.pool(), &self.query)
            }
        }
    };
}
use pool_checks;

/// What a backend's pool gives the shared logic.
trait Pool: Send + Sync {
    /// A connection checked out of the pool; dropping it gives it back.
    type Connection: Send;

    /// The pool's counters now.
    fn stats(&self) -> Stats;

    /// An idle connection, or a new one while the pool may grow; never a place in the
    /// pool's queue.
    fn checkout(&self) -> impl Future<Output = Result<Checkout<Self::Connection>, Failure>> + Send;

    /// Sends `sql` on the simple protocol and reads the answer to its end.
    fn run(
        connection: &mut Self::Connection,
        sql: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Takes `connection` out of the pool and closes it, synchronously: the pool forgets
    /// it and may open a replacement.
    fn discard(connection: Self::Connection);
}

/// What [`Pool::checkout`] found.
enum Checkout<C> {
    /// A connection that was idle in the pool: it may have died since it was used.
    Idle(C),
    /// A connection opened for this run.
    Opened(C),
    /// Every connection is in use and the pool is at its maximum.
    Exhausted,
}

/// A pool's counters, read before the check takes a connection.
#[derive(Clone, Copy, Debug)]
struct Stats {
    size: usize,
    idle: usize,
    max: usize,
    /// Tasks waiting for a connection, where the pool counts them.
    waiting: Option<usize>,
}

impl Stats {
    fn in_use(&self) -> usize {
        self.size.saturating_sub(self.idle)
    }

    fn annotate(&self, report: Report) -> Report {
        const UNIT: &str = "connections";
        let report = report
            .with_measurement("pool_size", count(self.size), UNIT)
            .with_measurement("pool_idle", count(self.idle), UNIT)
            .with_measurement("pool_in_use", count(self.in_use()), UNIT)
            .with_measurement("pool_max", count(self.max), UNIT);
        match self.waiting {
            Some(waiting) => report.with_measurement("pool_waiting", count(waiting), UNIT),
            None => report,
        }
    }
}

fn count(value: usize) -> f64 {
    f64::from(u32::try_from(value).unwrap_or(u32::MAX))
}

/// One check run on `pool`: see [`PgCheck`].
async fn probe<P: Pool>(pool: &P, sql: &str) -> Report {
    let stats = pool.stats();
    // Each dead idle connection found is discarded before the next try, so the retries
    // end when the pool runs out of idle connections and opens one, or at this bound.
    let mut retries = stats.max;
    let outcome = loop {
        let (connection, idle) = match pool.checkout().await {
            Ok(Checkout::Idle(connection)) => (connection, true),
            Ok(Checkout::Opened(connection)) => (connection, false),
            Ok(Checkout::Exhausted) => {
                // Read again: the counters from before may predate the last checkout.
                let now = pool.stats();
                let mut reason = format!(
                    "pool exhausted: {}/{} connections in use",
                    now.in_use(),
                    now.max
                );
                if let Some(waiting) = now.waiting.filter(|&waiting| waiting > 0) {
                    let _ = write!(reason, ", {waiting} waiting");
                }
                return now.annotate(Report::degraded(reason));
            }
            Err(failure) => break Err(failure),
        };
        let mut held = Held::<P> {
            connection: Some(connection),
        };
        let started = Instant::now();
        match P::run(held.connection(), sql).await {
            Ok(()) => {
                held.give_back();
                break Ok(started.elapsed());
            }
            Err(failure) if idle && failure.lost && retries > 0 => {
                tracing::debug!(target: "health", reason = %failure, "a pooled PostgreSQL connection was dead; discarded, trying another");
                retries -= 1;
            }
            Err(failure) => break Err(failure),
        }
    };
    let report = match outcome {
        Ok(round_trip) => Report::healthy().with_observed(round_trip.as_secs_f64() * 1_000.0, "ms"),
        Err(failure) => Report::unhealthy(failure.to_string()),
    };
    stats.annotate(report)
}

/// A checked-out connection. [`give_back`](Held::give_back) returns it to the pool after
/// a clean run; dropped any other way (the runner dropping the run's future at its
/// deadline, mid-query; an error) it is discarded, so the pool never hands out a
/// connection with an unread answer or a stuck query on it.
struct Held<P: Pool> {
    connection: Option<P::Connection>,
}

impl<P: Pool> Held<P> {
    fn connection(&mut self) -> &mut P::Connection {
        self.connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("a Held connection is taken only by give_back"))
    }

    /// Returns the connection to the pool (the pool's own drop does it).
    fn give_back(mut self) {
        drop(self.connection.take());
    }
}

impl<P: Pool> Drop for Held<P> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            P::discard(connection);
        }
    }
}

/// Why a run failed, as the reason a reader sees: built from the error's parts (an OS
/// error, the server's message and SQLSTATE), never from a connection string.
#[derive(Debug)]
struct Failure {
    reason: String,
    /// The connection is unusable (closed, reset, terminated by the server): on a
    /// connection that sat idle in the pool, that says nothing about the database yet.
    lost: bool,
}

/// Where in a run an error happened: it decides what a server error means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connect,
    Query,
}

impl Failure {
    fn new(reason: &str, lost: bool) -> Failure {
        Failure {
            reason: redact(reason),
            lost,
        }
    }

    /// An OS error while opening a connection to `target` (`host:port` or a socket path,
    /// where the backend knows it).
    fn connect(error: &io::Error, target: Option<&str>) -> Failure {
        let reason = match (error.kind(), target) {
            (io::ErrorKind::ConnectionRefused, Some(target)) => {
                format!("connection refused by {target}")
            }
            (io::ErrorKind::ConnectionRefused, None) => "connection refused".to_owned(),
            (_, Some(target)) => format!("cannot connect to {target}: {error}"),
            (_, None) => format!("cannot connect: {error}"),
        };
        Failure::new(&reason, false)
    }

    /// An error the server sent, with its SQLSTATE `code`.
    fn server(phase: Phase, code: &str, message: &str) -> Failure {
        let (what, lost) = match (phase, code.get(..2)) {
            // Class 28: invalid authorization specification (28000, 28P01).
            (Phase::Connect, Some("28")) => ("authentication failed", false),
            (Phase::Connect, _) => ("connection rejected", false),
            // Class 08 (connection exception) and 57P01–57P03 (admin shutdown, crash
            // shutdown, cannot connect now): the server ended this session.
            (Phase::Query, Some("08")) => ("connection lost", true),
            (Phase::Query, _) if code.starts_with("57P") => ("connection lost", true),
            (Phase::Query, _) => ("query failed", false),
        };
        Failure::new(&format!("{what}: {message} (SQLSTATE {code})"), lost)
    }

    /// An error of the driver's that carries neither an OS error nor a server's.
    fn driver(phase: Phase, detail: &dyn fmt::Display) -> Failure {
        match phase {
            Phase::Connect => Failure::new(&format!("cannot connect: {detail}"), false),
            // A protocol or I/O error mid-query leaves the connection unusable.
            Phase::Query => Failure::new(&format!("connection lost: {detail}"), true),
        }
    }

    fn closed() -> Failure {
        Failure::new("the pool is closed", false)
    }

    /// The pool's own limit on opening a connection passed before the check's timeout.
    fn pool_timeout() -> Failure {
        Failure::new(
            "timed out opening a connection (the pool's own timeout)",
            false,
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Removes the user and password of any `scheme://user:password@host` in `text`.
///
/// Reasons are built from error parts, not connection strings; this is the second line,
/// for a driver that one day puts its URL into an error message.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')'))
            .unwrap_or(after.len());
        let authority_end = after[..end].find(['/', '?', '#']).unwrap_or(end);
        match after[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &after[at + 1..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{Failure, Phase, Stats, redact};
    use crate::{Report, Status};

    #[test]
    fn redact_removes_credentials_from_urls_only() {
        assert_eq!(
            redact("cannot parse postgres://app:s3cret@db:5432/app?sslmode=require"),
            "cannot parse postgres://***@db:5432/app?sslmode=require"
        );
        assert_eq!(
            redact("a postgresql://u@h/d and \"http://x:y@z\""),
            "a postgresql://***@h/d and \"http://***@z\""
        );
        assert_eq!(
            redact("user@example.com said: postgres://h/d?x=a@b"),
            "user@example.com said: postgres://h/d?x=a@b",
            "an @ outside the authority is not a credential"
        );
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn server_errors_are_named_by_phase_and_class() {
        let auth = Failure::server(Phase::Connect, "28P01", "password authentication failed");
        assert_eq!(
            auth.to_string(),
            "authentication failed: password authentication failed (SQLSTATE 28P01)"
        );
        assert!(!auth.lost);
        let missing = Failure::server(Phase::Connect, "3D000", "database \"x\" does not exist");
        assert!(missing.to_string().starts_with("connection rejected: "));
        let killed = Failure::server(Phase::Query, "57P01", "terminating connection");
        assert!(killed.lost, "a terminated backend is a lost connection");
        assert!(killed.to_string().starts_with("connection lost: "));
        assert!(Failure::server(Phase::Query, "08006", "connection failure").lost);
        let syntax = Failure::server(Phase::Query, "42601", "syntax error");
        assert!(!syntax.lost);
        assert_eq!(
            syntax.to_string(),
            "query failed: syntax error (SQLSTATE 42601)"
        );
    }

    #[test]
    fn connect_errors_name_the_target_when_known() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Failure::connect(&refused, Some("127.0.0.1:5432")).to_string(),
            "connection refused by 127.0.0.1:5432"
        );
        assert_eq!(
            Failure::connect(&refused, None).to_string(),
            "connection refused"
        );
        let other = std::io::Error::other("no route to host");
        assert_eq!(
            Failure::connect(&other, Some("db:5432")).to_string(),
            "cannot connect to db:5432: no route to host"
        );
    }

    #[test]
    fn stats_become_measurements() {
        let stats = Stats {
            size: 5,
            idle: 2,
            max: 8,
            waiting: Some(1),
        };
        let report = stats.annotate(Report::new(Status::Healthy));
        let measured: Vec<(&str, f64)> = report
            .measurements()
            .map(|(name, observed)| (name, observed.value()))
            .collect();
        assert_eq!(
            measured,
            [
                ("pool_size", 5.0),
                ("pool_idle", 2.0),
                ("pool_in_use", 3.0),
                ("pool_max", 8.0),
                ("pool_waiting", 1.0)
            ]
        );
        let no_waiters = Stats {
            waiting: None,
            ..stats
        };
        assert_eq!(
            no_waiters
                .annotate(Report::new(Status::Healthy))
                .measurements()
                .len(),
            4
        );
    }
}
