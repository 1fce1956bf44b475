//! `--postgres URL`: a readiness check on a real connection pool, and admin routes that
//! hold every connection of it, as a busy service would.

use std::sync::Mutex;
use std::time::Duration;

use health_core::HealthCheck;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};

/// The pool's size: small, so that holding all of it is quick.
const MAX_CONNECTIONS: u32 = 4;

/// The database, checked through the pool the service would use for its queries.
#[derive(HealthCheck)]
#[health(interval = "2s", timeout = "500ms")]
pub(crate) struct Database {
    /// Readiness, like the other dependencies: two consecutive passes bring it back.
    #[health(readiness, success_threshold = 2)]
    pub(crate) postgres: PgPool,
}

/// Parses `--postgres URL`. The error never repeats the URL: it may hold a password.
pub(crate) fn parse_url(url: &str) -> Result<PgConnectOptions, String> {
    url.parse::<PgConnectOptions>()
        .map_err(|err| format!("--postgres: not a PostgreSQL URL ({err})"))
}

/// A lazy pool: the service starts, and reports not ready, while the database is down.
pub(crate) fn pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options)
}

/// Where the pool connects, for the banner: no user, no password.
pub(crate) fn describe(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!(
        "{}:{}/{} (a pool of {MAX_CONNECTIONS})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

/// The connections `/postgres/hold` took.
#[derive(Default)]
pub(crate) struct Held(Mutex<Vec<PoolConnection<Postgres>>>);

/// Answers `/postgres/hold` and `/postgres/release`.
pub(crate) async fn admin(pool: Option<&PgPool>, held: &Held, path: &str) -> (u16, String) {
    let Some(pool) = pool else {
        return (409, "no pool: start with --postgres URL\n".into());
    };
    match path {
        "/postgres/hold" => {
            let mut taken = Vec::new();
            let wanted = MAX_CONNECTIONS as usize - lock(held).len();
            for _ in 0..wanted {
                match pool.acquire().await {
                    Ok(connection) => taken.push(connection),
                    Err(err) => {
                        return (
                            503,
                            format!("took {} connections, then: {err}\n", taken.len()),
                        );
                    }
                }
            }
            let mut connections = lock(held);
            connections.append(&mut taken);
            (
                200,
                format!(
                    "holding {}/{MAX_CONNECTIONS} connections: the check reports the pool exhausted\n",
                    connections.len()
                ),
            )
        }
        "/postgres/release" => {
            let released = std::mem::take(&mut *lock(held)).len();
            (200, format!("released {released} connections\n"))
        }
        _ => (404, format!("unknown admin route {path}; see --help\n")),
    }
}

fn lock(held: &Held) -> std::sync::MutexGuard<'_, Vec<PoolConnection<Postgres>>> {
    held.0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
