//! An axum application embedding its probes with `health_http::axum`
//! (`src/bin/axum_app.rs`), as a real process: its own routes and the probes on one
//! router, then SIGTERM: readiness fails at once while the application keeps serving,
//! the server stops accepting after the drain delay, the request in flight finishes, and
//! the process exits 0.
//!
//! Every wait is on something the application prints or answers, bounded by a deadline;
//! the slow request is held open until the test writes a line to the application's
//! standard input.

use std::process::Stdio;
use std::time::Duration;

use health_tests::{get, read_answer, sigterm, within};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::{Instant, timeout};

/// The drain delay given to the application: long enough to watch it, short enough for
/// a test.
const DRAIN: Duration = Duration::from_secs(3);
/// Slack for a loaded CI machine, on every deadline.
const SLACK: Duration = Duration::from_secs(5);

/// The application, running; killed when dropped.
struct App {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    addr: String,
}

impl App {
    async fn start() -> App {
        let mut child = Command::new(env!("CARGO_BIN_EXE_axum_app"))
            .args(["--drain-ms", &DRAIN.as_millis().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the application starts");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut app = App {
            child,
            stdout,
            addr: String::new(),
        };
        let line = app.next_line().await;
        line.strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line:?} is no listening line"))
            .clone_into(&mut app.addr);
        app
    }

    async fn next_line(&mut self) -> String {
        timeout(SLACK + DRAIN, self.stdout.next_line())
            .await
            .expect("the application says what happens in time")
            .expect("readable stdout")
            .expect("the application is still running")
    }

    /// Waits for the line `expected`, failing on any other.
    async fn expect_line(&mut self, expected: &str) {
        assert_eq!(self.next_line().await, expected);
    }

    /// Lets the slow request answer.
    async fn release_slow(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(b"go\n").await.expect("write to stdin");
        stdin.flush().await.expect("flush stdin");
    }
}

#[tokio::test]
async fn probes_on_the_apps_router_and_a_drain_on_sigterm() {
    let mut app = App::start().await;
    let addr = app.addr.clone();

    // One router: the application's routes, the standard probe paths, a custom one.
    within(SLACK, "ready once the upstreams are checked", || async {
        get(&addr, "/readyz").await.status == 200
    })
    .await;
    let hello = get(&addr, "/").await;
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "hello from the app")
    );
    assert_eq!(get(&addr, "/livez").await.status, 200);
    assert_eq!(get(&addr, "/ready").await.status, 200);
    let verbose = get(&addr, "/readyz?verbose").await.body;
    assert_eq!(
        verbose,
        "[+]upstreams.billing ok\n[+]upstreams.search ok\n[+]shutdown ok\nreadyz check passed\n"
    );
    assert_eq!(get(&addr, "/readyz/upstreams.search").await.status, 200);

    // A request in flight when the signal comes.
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: app\r\n\r\n")
        .await
        .expect("write");
    app.expect_line("slow: started").await;

    sigterm(&app.child);
    app.expect_line("shutdown: signal").await;
    let failed_after = within(
        Duration::from_secs(1),
        "readiness fails at once",
        || async { get(&addr, "/readyz").await.status == 503 },
    )
    .await;
    let draining = Instant::now();
    // Still serving while draining: the application, liveness, the reason for readiness.
    let hello = get(&addr, "/").await;
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "hello from the app")
    );
    assert_eq!(
        get(&addr, "/livez").await.status,
        200,
        "a drain never fails liveness"
    );
    assert_eq!(get(&addr, "/ready").await.status, 503);
    assert!(
        get(&addr, "/readyz?verbose")
            .await
            .body
            .contains("[-]shutdown failed: process is shutting down")
    );

    app.expect_line("shutdown: drained").await;
    let drained_after = draining.elapsed();
    within(SLACK, "no new connections after the drain", || async {
        TcpStream::connect(&addr).await.is_err()
    })
    .await;

    // The request in flight still gets its answer.
    app.release_slow().await;
    let answer = timeout(SLACK, read_answer(&mut slow))
        .await
        .expect("the slow request finishes");
    assert_eq!((answer.status, answer.body.as_str()), (200, "slow: done"));
    app.expect_line("stopped").await;
    let status = timeout(SLACK, app.child.wait())
        .await
        .expect("the application exits in time")
        .expect("wait works");
    assert_eq!(status.code(), Some(0), "a graceful shutdown exits 0");
    eprintln!(
        "readiness failed {failed_after:?} after the signal was seen; the drain ended {drained_after:?} later (delay {DRAIN:?})"
    );
}
