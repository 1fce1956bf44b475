//! Helpers for the end-to-end scenarios in `tests/`: start the example service as a real
//! process, talk raw HTTP/1.1 to it, and wait on conditions with deadlines.
//!
//! The scenarios drive the real example (`health-http/examples/service/`), so what they
//! prove is what a newcomer runs: derive → core → runner → HTTP, with real sockets and
//! real signals.

#![doc(test(attr(deny(warnings))))]

pub mod postgres;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{Instant, timeout};

/// The kubelet's default probe timeout: every probe must answer within it.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the example's scheduled checks run: the dependency checks and, with
/// `--postgres`, the PostgreSQL check (`#[health(interval = "2s")]` on both states).
pub const INTERVAL: Duration = Duration::from_secs(2);

/// How long one run of the example's scheduled checks may take
/// (`#[health(timeout = "500ms")]` on both states).
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// How long the example's worker heartbeat may be silent before liveness fails
/// (`max_silence = "5s"`).
pub const WORKER_MAX_SILENCE: Duration = Duration::from_secs(5);

/// Added to a limit derived from the schedule, for a loaded CI machine: the property
/// tested is the schedule's budget, not the machine's speed.
pub const SLACK: Duration = Duration::from_secs(1);

/// Long enough for the first check runs to finish after start ([`Service::ready`]).
pub const SETTLE: Duration = Duration::from_secs(10);

/// The token [`Service::start`] gives the example with `--details-token`, and
/// [`Service::get`] sends: failure reasons are shown to it, withheld from others.
pub const DETAILS_TOKEN: &str = "end-to-end-token";

/// The example service, running; killed when dropped.
#[derive(Debug)]
pub struct Service {
    child: Child,
    /// Where probes are served.
    pub addr: String,
    /// The admin port.
    pub admin: String,
}

/// Returns the example binary, built (once per test process) from the current sources.
///
/// Always through `cargo build`, never "if missing": `cargo test` builds the example only as
/// its unit-test harness (it has `test = true`), so `target/<profile>/examples/service` can
/// be a stale binary from an older build, and the scenarios would test old code. A build
/// with nothing to do costs a fraction of a second.
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            // target/<profile>/deps/<test> → target/<profile>/examples/service
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("the test binary lives in target/<profile>/deps");
            let profile = profile_dir
                .file_name()
                .and_then(|name| name.to_str())
                .expect("a profile directory name");
            // The profiles `cargo test` builds with (`--release`: `bench`), and the whole
            // workspace's features (health-tests turns on `grpc`, `axum`, the PostgreSQL
            // backends), so this build reuses every artifact of `cargo test --workspace`
            // instead of compiling the stack a second time (`-p health-http` with the `dev`
            // profile rebuilt ~170 crates, minutes of a CI run).
            let profile = match profile {
                "debug" => "test",
                "release" => "bench",
                other => other,
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--example", "service"])
                .args(["--profile", profile])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the example failed");
            profile_dir.join("examples").join("service")
        })
        .clone()
}

impl Service {
    /// Starts the example on ephemeral loopback ports with `args` (and
    /// `--details-token` [`DETAILS_TOKEN`]) and waits for its banner.
    ///
    /// # Panics
    ///
    /// If it does not start within 30 s.
    pub async fn start(args: &[&str]) -> Service {
        let mut child = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
            .args(["--details-token", DETAILS_TOKEN])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the example starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut next_addr = async |prefix: &str| {
            let line = timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("the banner within 30 s")
                .expect("readable stdout")
                .expect("a banner line");
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{line:?} should start with {prefix:?}"))
                .to_owned()
        };
        let addr = next_addr("probes listening on http://").await;
        let admin = next_addr("admin listening on http://").await;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Service { child, addr, admin }
    }

    /// GETs `path` on the probe port with the details token, so failure reasons show.
    ///
    /// # Panics
    ///
    /// If the service does not answer within [`PROBE_TIMEOUT`].
    pub async fn get(&self, path: &str) -> Answer {
        get_with(&self.addr, path, &[("X-Health-Token", DETAILS_TOKEN)]).await
    }

    /// GETs `path` on the probe port as health+json, with the details token.
    ///
    /// # Panics
    ///
    /// If the service does not answer within [`PROBE_TIMEOUT`].
    pub async fn get_json(&self, path: &str) -> Answer {
        let headers = [
            ("X-Health-Token", DETAILS_TOKEN),
            ("Accept", "application/health+json"),
        ];
        get_with(&self.addr, path, &headers).await
    }

    /// Calls an admin route (`/dependency/down`, `/worker/stall`, …).
    ///
    /// # Panics
    ///
    /// If the admin port does not answer 200.
    pub async fn admin(&self, path: &str) {
        let answer = get(&self.admin, path).await;
        assert_eq!(answer.status, 200, "admin {path}: {}", answer.body);
    }

    /// Waits (up to [`SETTLE`]) until `/readyz` answers 200, with `/livez` at 200
    /// throughout, as [`readiness_becomes`]; returns how long it took.
    ///
    /// # Panics
    ///
    /// If the service is not ready in time, or liveness fails.
    pub async fn ready(&self) -> Duration {
        readiness_becomes(self, 200, SETTLE).await
    }

    /// Sends SIGTERM, as the kubelet does to stop a pod.
    ///
    /// # Panics
    ///
    /// If `kill` cannot be run.
    pub fn terminate(&self) {
        sigterm(&self.child);
    }

    /// Waits for the process to exit and returns its exit code.
    ///
    /// # Panics
    ///
    /// If it does not exit within `limit`.
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        timeout(limit, self.child.wait())
            .await
            .expect("the service exits in time")
            .expect("wait works")
            .code()
    }
}

/// Runs the example to completion with `args` (for flag errors and `--help`); returns
/// its exit code and stderr.
///
/// # Panics
///
/// If it does not exit within 30 s.
pub async fn run_example(args: &[&str]) -> (Option<i32>, String) {
    let output = timeout(
        Duration::from_secs(30),
        Command::new(example_binary())
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the example exits in time")
    .expect("the example runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sends SIGTERM to `child`, as the kubelet does to stop a pod.
///
/// # Panics
///
/// If `child` has been reaped already, or `kill` cannot be run or fails.
pub fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// A parsed HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// GETs `path` from `addr` on a new connection, as a kubelet does, bounded by
/// [`PROBE_TIMEOUT`].
///
/// # Panics
///
/// If no whole answer arrives in time.
pub async fn get(addr: &str, path: &str) -> Answer {
    get_with(addr, path, &[]).await
}

/// [`get`] with extra request headers.
///
/// # Panics
///
/// If no whole answer arrives in time.
pub async fn get_with(addr: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    timeout(PROBE_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            let _ = write!(request, "{name}: {value}\r\n");
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        read_answer(&mut stream).await
    })
    .await
    .unwrap_or_else(|_| panic!("GET {path} took longer than the probe timeout"))
}

/// Reads one `Connection: close` answer (or, with `Content-Length`, one keep-alive
/// answer) from `stream`.
///
/// # Panics
///
/// If the answer is malformed.
pub async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            });
            if let Some(length) = length
                && buffer.len() >= end + 4 + length
            {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .expect("a status code");
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
                return Answer { status, body };
            }
        }
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(
            read > 0,
            "connection closed before a whole answer: {buffer:?}"
        );
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Polls `condition` every 50 ms until it holds or `limit` passes; returns how long it
/// took. Polling is how a kubelet observes a pod, and the limit is the property tested.
///
/// An async closure, so the condition may mutably borrow what it polls with (a
/// connection of its own) or keeps (the slowest answer seen); `|| async { .. }` works too.
///
/// # Panics
///
/// If the condition does not hold within `limit`.
pub async fn within(
    limit: Duration,
    what: &str,
    mut condition: impl AsyncFnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if condition().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A probe storm: `clients` tasks each GET `path` from `addr` `per_client` times in a row,
/// asserting every answer is `status`; returns how long it took.
///
/// # Panics
///
/// If an answer is not `status`, or slower than [`PROBE_TIMEOUT`].
pub async fn storm(
    addr: &str,
    path: &str,
    clients: usize,
    per_client: usize,
    status: u16,
) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, path) = (addr.to_owned(), path.to_owned());
            tokio::spawn(async move {
                for _ in 0..per_client {
                    assert_eq!(get(&addr, &path).await.status, status);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a storm client panicked");
    }
    started.elapsed()
}

/// Waits up to `limit` for readiness to fail because the check `name` timed out, with
/// liveness at 200 throughout; then probes 20 times more. Every probe is bounded by
/// [`PROBE_TIMEOUT`] inside [`get`], so a probe that waited on the hung dependency
/// fails the test. Returns how long readiness took to fail.
///
/// # Panics
///
/// If readiness does not fail in time, or fails for another reason, or a probe is slow.
pub async fn times_out_while_probes_answer(
    service: &Service,
    name: &str,
    limit: Duration,
) -> Duration {
    let took = readiness_becomes(service, 503, limit).await;
    let verbose = service.get("/readyz?verbose").await;
    let failed = format!("[-]{name} failed: timed out after");
    assert!(verbose.body.contains(&failed), "{}", verbose.body);
    for _ in 0..20 {
        assert_eq!(service.get("/livez").await.status, 200);
        assert_eq!(service.get("/readyz").await.status, 503);
    }
    took
}

/// Polls until `/readyz` answers `status` (up to `limit`), asserting each time that
/// `/livez` answers 200: a dependency must never reach liveness. Returns how long it took.
///
/// # Panics
///
/// If readiness does not change in time, or liveness fails.
pub async fn readiness_becomes(service: &Service, status: u16, limit: Duration) -> Duration {
    within(limit, &format!("/readyz answers {status}"), || async {
        assert_eq!(
            service.get("/livez").await.status,
            200,
            "a dependency's state reached liveness"
        );
        service.get("/readyz").await.status == status
    })
    .await
}

/// The root README's examples, compiled (and, unless `no_run`, run) as doctests: this
/// crate has what they use (the derive, health-http with `axum`, axum).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadme;
