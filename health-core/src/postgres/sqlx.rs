//! The sqlx backend: [`PgPool`]. Feature `sqlx`.
//!
//! What it relies on, from sqlx-core 0.9 `src/pool/`:
//! - `Pool::try_acquire` pops an idle connection or returns `None` at once; it never opens
//!   one, so growth is this module's job (`inner.rs`, `try_acquire` → `pop_idle`).
//! - `Pool::acquire` retries a *refused* connection with backoff until the pool's
//!   `acquire_timeout` (30 s by default; `inner.rs`, `connect`), which would turn "the
//!   server is down" into "timed out". A plain TCP connect to the same address races it
//!   here and names the refusal at once.
//! - `PoolConnection::detach` hands back the raw connection and gives up its slot (its
//!   size guard is dropped), and dropping a `PgConnection` closes its socket: no task, no
//!   round trip (`connection.rs`). Returning a connection instead spawns a task that pings
//!   it first, which on a stalled server would hang while the pool counts it as in use.

use std::io;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, Postgres};
use sqlx::{AssertSqlSafe, Error};
use tokio::net::TcpStream;

use super::{Checkout, Failure, Phase, Pool, Stats, pool_checks};

pool_checks!(PgPool);

impl Pool for PgPool {
    type Connection = PoolConnection<Postgres>;

    fn stats(&self) -> Stats {
        Stats {
            size: self.size() as usize,
            idle: self.num_idle(),
            max: self.options().get_max_connections() as usize,
            waiting: None,
        }
    }

    async fn checkout(&self) -> Result<Checkout<Self::Connection>, Failure> {
        if let Some(connection) = self.try_acquire() {
            return Ok(Checkout::Idle(connection));
        }
        if self.is_closed() {
            return Err(Failure::closed());
        }
        if self.size() >= self.options().get_max_connections() {
            return Ok(Checkout::Exhausted);
        }
        // Room to grow: `acquire` finds a free permit and opens a connection, which stays
        // in the pool for the application afterwards. (Between the size read and the
        // permit, the application may take the last slot; the run then waits, bounded by
        // its timeout. sqlx offers no atomic "idle or new, else nothing".)
        let options = self.connect_options();
        let target = target(&options);
        tokio::select! {
            acquired = self.acquire() => acquired
                .map(Checkout::Opened)
                .map_err(|error| connect_failure(&error, &target)),
            refused = refusal(&options) => Err(Failure::connect(&refused, Some(&target))),
        }
    }

    async fn run(connection: &mut Self::Connection, sql: &str) -> Result<(), Failure> {
        // `raw_sql` sends a simple-protocol Query message and caches no statement.
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut **connection)
            .await
            .map(drop)
            .map_err(|error| query_failure(&error))
    }

    fn discard(connection: Self::Connection) {
        drop(connection.detach());
    }
}

/// Where sqlx connects: the socket file, as sqlx-postgres `PgConnectOptions::fetch_socket`
/// builds it, or `host:port`.
fn target(options: &PgConnectOptions) -> String {
    match socket(options) {
        Some(path) => path,
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

fn socket(options: &PgConnectOptions) -> Option<String> {
    let port = options.get_port();
    match options.get_socket() {
        Some(directory) => Some(format!("{}/.s.PGSQL.{port}", directory.display())),
        None if options.get_host().starts_with('/') => {
            Some(format!("{}/.s.PGSQL.{port}", options.get_host()))
        }
        None => None,
    }
}

/// Completes only if the server refuses connections: a bare connect to where sqlx
/// connects (the same `TcpStream::connect((host, port))` call sqlx-core makes), closed at
/// once. Any other outcome is left to `acquire`, which reports it itself.
async fn refusal(options: &PgConnectOptions) -> io::Error {
    let attempt = match socket(options) {
        #[cfg(unix)]
        Some(path) => tokio::net::UnixStream::connect(path).await.map(drop),
        #[cfg(not(unix))]
        Some(_) => Ok(()),
        None => TcpStream::connect((options.get_host(), options.get_port()))
            .await
            .map(drop),
    };
    match attempt {
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => error,
        _ => std::future::pending().await,
    }
}

fn connect_failure(error: &Error, target: &str) -> Failure {
    match error {
        Error::Io(io) => Failure::connect(io, Some(target)),
        Error::Database(database) => Failure::server(
            Phase::Connect,
            &database.code().unwrap_or_default(),
            database.message(),
        ),
        Error::PoolTimedOut => Failure::pool_timeout(),
        Error::PoolClosed => Failure::closed(),
        other => Failure::driver(Phase::Connect, other),
    }
}

fn query_failure(error: &Error) -> Failure {
    match error {
        Error::Database(database) => Failure::server(
            Phase::Query,
            &database.code().unwrap_or_default(),
            database.message(),
        ),
        other => Failure::driver(Phase::Query, other),
    }
}
