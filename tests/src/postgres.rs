//! PostgreSQL for the tests: the server that `DATABASE_URL` names, private clusters for
//! scenarios that stop their server, a TCP proxy that stalls, and `pg_stat_activity`.
//!
//! Without a server a test reports itself skipped, on stderr (which the test harness does
//! not capture), with the command that provides one, and passes; with
//! `HEALTH_REQUIRE_POSTGRES=1` (as `.ci/run` sets it) it fails instead, so CI can never
//! skip silently.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::within;

/// The variable that turns "no PostgreSQL" into a failure.
pub const REQUIRE: &str = "HEALTH_REQUIRE_POSTGRES";

/// What provides a server, for the skip message.
const HOW: &str = "source scripts/postgres.sh (starts a throw-away cluster, exports DATABASE_URL \
                   and HEALTH_PG_BIN), then run the tests again";

/// A role whose logins need a password in private clusters (every other login is trusted).
pub const PASSWORD_ROLE: &str = "health_auth";

/// Reports `test` skipped because of `why`, or fails it when [`REQUIRE`] is set.
///
/// # Panics
///
/// When `HEALTH_REQUIRE_POSTGRES=1`.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var(REQUIRE).as_deref() != Ok("1"),
        "{test}: {why}, and {REQUIRE}=1 forbids skipping ({HOW})"
    );
    // Straight to stderr: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}; {HOW}");
}

/// Returns `DATABASE_URL`, or reports `test` skipped and returns `None`.
///
/// # Panics
///
/// As [`skip`].
#[must_use]
pub fn database_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(test, "DATABASE_URL is not set");
            None
        }
    }
}

/// The shared server for `test`, with connections named for it: `(admin URL, the URL to
/// give the code under test, its application name)`, or `None` (reported skipped) when
/// `DATABASE_URL` is not set. The name is [`unique`] for `prefix`.
///
/// # Panics
///
/// As [`skip`].
#[must_use]
pub fn server(test: &str, prefix: &str) -> Option<(String, String, String)> {
    let admin = database_url(test)?;
    let name = unique(prefix);
    let url = with_application_name(&admin, &name);
    Some((admin, url, name))
}

/// Returns `url` with `application_name` set to `name`, so that a test finds its own
/// connections in `pg_stat_activity` on a shared server.
#[must_use]
pub fn with_application_name(url: &str, name: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

/// A name unique to this process and call: for `application_name` (keep `prefix` short:
/// the server truncates names to 63 bytes).
#[must_use]
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("the test's own connection to PostgreSQL failed: {err}"))
}

/// The server process ids of the connections named `application_name`, sorted.
///
/// # Panics
///
/// If the server cannot be queried.
pub async fn backends(url: &str, application_name: &str) -> Vec<i32> {
    let mut activity = Activity::connect(url).await;
    let pids = activity.backends(application_name).await;
    activity.close().await;
    pids
}

/// A connection of the test's own for reading `pg_stat_activity` again and again.
#[derive(Debug)]
pub struct Activity(PgConnection);

impl Activity {
    /// Connects to `url`.
    ///
    /// # Panics
    ///
    /// If it cannot.
    pub async fn connect(url: &str) -> Activity {
        Activity(connect(url).await)
    }

    /// The server process ids of the connections named `application_name`, sorted.
    ///
    /// # Panics
    ///
    /// If the server cannot be queried.
    pub async fn backends(&mut self, application_name: &str) -> Vec<i32> {
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
        )
        .bind(application_name)
        .fetch_all(&mut self.0)
        .await
        .expect("pg_stat_activity is readable")
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.0.close().await;
    }
}

/// Runs `sql` (simple protocol) on a connection of its own.
///
/// # Panics
///
/// If it fails.
pub async fn execute(url: &str, sql: &str) {
    let mut connection = connect(url).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    let _ = connection.close().await;
}

/// How long [`wait_active`] and [`terminate`] wait for the server to catch up.
const SERVER_LIMIT: Duration = Duration::from_secs(10);

/// Completes once a connection named `application_name` is running `query` on the
/// server.
///
/// # Panics
///
/// If the server cannot be queried, or nothing runs `query` within 10 s.
pub async fn wait_active(url: &str, application_name: &str, query: &str) {
    let mut connection = connect(url).await;
    let what = format!("{application_name} running {query:?} in pg_stat_activity");
    within(SERVER_LIMIT, &what, async || {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'active' AND query = $2",
        )
        .bind(application_name)
        .bind(query)
        .fetch_one(&mut connection)
        .await
        .expect("pg_stat_activity is readable");
        running > 0
    })
    .await;
    let _ = connection.close().await;
}

/// Terminates every backend named `application_name` (`pg_terminate_backend`) and waits
/// for them to be gone; returns their process ids.
///
/// # Panics
///
/// If the server cannot be queried, or a backend outlives 10 s.
pub async fn terminate(url: &str, application_name: &str) -> Vec<i32> {
    let killed = backends(url, application_name).await;
    let mut connection = connect(url).await;
    // By pid, in a query of its own: in one `WHERE`, the planner may call
    // `pg_terminate_backend` before the name filter, on every backend.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int4[]) AS pid")
        .bind(&killed)
        .execute(&mut connection)
        .await
        .expect("pg_terminate_backend runs");
    // `pg_terminate_backend` only signals: wait for the processes to leave.
    let what = format!("terminated backends {killed:?} gone");
    within(SERVER_LIMIT, &what, async || {
        let alive: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)")
                .bind(&killed)
                .fetch_one(&mut connection)
                .await
                .expect("pg_stat_activity is readable");
        alive == 0
    })
    .await;
    let _ = connection.close().await;
    killed
}

/// The directory of `initdb` and `pg_ctl`, for private clusters: exported by
/// `scripts/postgres.sh`, which finds the programs (and installs them if need be).
const BIN: &str = "HEALTH_PG_BIN";

/// The user private clusters' programs run as, when set: `scripts/postgres.sh` exports
/// `postgres` when run as root, since initdb refuses root.
const SERVER_USER: &str = "HEALTH_PG_USER";

/// A private PostgreSQL cluster, for a scenario that stops its server: in a temporary
/// directory, on a free loopback port, trust authentication except for
/// [`PASSWORD_ROLE`], fsync off. Stopped and removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    user: Option<String>,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// Initialises and starts a cluster with the programs in `HEALTH_PG_BIN`, or reports
    /// `test` skipped when it is not set.
    ///
    /// # Panics
    ///
    /// If initdb or the server fails, or when skipping is forbidden.
    pub async fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = std::env::var_os(BIN).filter(|bin| !bin.is_empty()) else {
            skip(
                test,
                &format!("{BIN} (initdb and pg_ctl, for a private cluster) is not set"),
            );
            return None;
        };
        let user = std::env::var(SERVER_USER)
            .ok()
            .filter(|user| !user.is_empty());
        let dir = std::env::temp_dir().join(unique("health-pg"));
        std::fs::create_dir(&dir).expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin: PathBuf::from(bin),
            user,
            dir,
            port,
        };
        let mut initdb = cluster.as_server_user("initdb");
        let (user, dir) = (cluster.user.clone(), cluster.dir.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(user) = user {
                // `user:`: the user and its login group.
                run(std::process::Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&dir));
            }
            run(initdb
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
            // Rewritten in place, so it keeps the server user as owner.
            std::fs::write(
                dir.join("data/pg_hba.conf"),
                format!(
                    "local all all trust\nhost all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
                ),
            )
            .expect("pg_hba.conf is writable");
        })
        .await
        .expect("initdb ran");
        cluster.start_server().await;
        Some(cluster)
    }

    /// The cluster's URL, as the `postgres` superuser.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    ///
    /// # Panics
    ///
    /// If `pg_ctl` fails.
    pub async fn stop(&self) {
        let mut command = self.pg_ctl(&["-m", "immediate", "stop"]);
        tokio::task::spawn_blocking(move || run(&mut command))
            .await
            .expect("pg_ctl ran");
    }

    /// Starts the server (again), on the same port, and waits until it accepts.
    ///
    /// # Panics
    ///
    /// If the server does not start within 30 s.
    pub async fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let mut command = self.pg_ctl(&["-w", "-t", "30", "-o", &options, "start"]);
        command.arg("-l").arg(log);
        tokio::task::spawn_blocking(move || run(&mut command))
            .await
            .expect("pg_ctl ran");
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.as_server_user("pg_ctl");
        command.arg("-D").arg(self.dir.join("data")).args(args);
        command
    }

    /// The PostgreSQL program `name`, run as the server's user.
    fn as_server_user(&self, name: &str) -> std::process::Command {
        let program = self.bin.join(name);
        if let Some(user) = &self.user {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl(&["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut std::process::Command) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?} did not start: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A TCP proxy in front of a server that can stall, as a hung server or a black-holed
/// network does: while stalled it accepts connections and forwards nothing, in either
/// direction, on new and existing connections alike.
#[derive(Debug)]
pub struct StallingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    stalled: watch::Sender<bool>,
}

impl StallingProxy {
    /// Starts a proxy to `upstream`, forwarding.
    ///
    /// # Panics
    ///
    /// If it cannot listen on loopback.
    pub async fn start(upstream: SocketAddr) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
        let addr = listener.local_addr().expect("an address");
        let (stalled, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, watching.clone()));
            }
        });
        StallingProxy { addr, stalled }
    }

    /// Stops forwarding.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Forwards again.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, mut stalled: watch::Receiver<bool>) {
    // Accepted, but not connected onward until the proxy forwards.
    if stalled.wait_for(|stalled| !stalled).await.is_err() {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, stalled.clone()),
        pump(server_read, client_write, stalled),
    );
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buffer = [0u8; 8192];
    loop {
        // While stalled nothing is read: bytes wait in the kernel, as with a hung peer.
        if stalled.wait_for(|stalled| !stalled).await.is_err() {
            return;
        }
        tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if to.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            },
            _ = stalled.changed() => {}
        }
    }
}

/// The address a `postgres://` URL connects to (its host resolved).
///
/// # Panics
///
/// If `url` has no host and port, or the host does not resolve.
pub async fn server_addr(url: &str) -> SocketAddr {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    tokio::net::lookup_host(&host_port)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("{host_port:?} does not resolve"))
}
