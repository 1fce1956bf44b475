//! An axum application that embeds its probes with `health_http::axum`: its own routes
//! and the probes on one router and one port, drained on SIGTERM by the kit's `drain`.
//! `tests/axum_app.rs` runs it as a real process.
//!
//! ```text
//! axum_app [--drain-ms N]     # drain delay, default 5000
//! ```
//!
//! Standard output says what happens, for the test to wait on: `listening on
//! http://ADDR`, `slow: started` when a `/slow` request arrives (it is answered once a
//! line arrives on standard input), `shutdown: signal`, `shutdown: drained` (the server
//! stops accepting), `stopped` (every request in flight finished). Exit status 0 after a
//! graceful shutdown, 2 on a bad flag, 1 on another error.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use health_core::{HealthCheck, Probe, Runner, StartupGate};
use health_http::HealthService;
use health_http::axum::{drain, router, shutdown_signal};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::Notify;

/// The application's state, as axum holds it: cheap to clone, every field shared. The
/// same value is the router's state and the registry's, registered without an extra
/// `Arc`.
#[derive(Clone, HealthCheck)]
#[health(interval = "1s", timeout = "500ms")]
struct AppState {
    /// What the application calls, one readiness check each: `upstreams.billing`, …
    #[health(readiness, each, with = Self::reachable)]
    upstreams: Arc<BTreeMap<String, String>>,
    /// Opened once the application is warm.
    #[health(startup)]
    warmup: StartupGate,
    /// Lets `/slow` answer; not a check.
    release: Arc<Notify>,
}

impl AppState {
    /// A stand-in for an HTTP client's `GET url`: every upstream here is up.
    async fn reachable(&self, url: &str) -> Result<(), String> {
        tokio::task::yield_now().await;
        if url.starts_with("http://") {
            Ok(())
        } else {
            Err(format!("cannot call {url}"))
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut delay = Duration::from_secs(5);
    while let Some(flag) = args.next() {
        let millis = (flag == "--drain-ms")
            .then(|| args.next())
            .flatten()
            .and_then(|value| value.parse().ok());
        let Some(millis) = millis else {
            eprintln!("usage: axum_app [--drain-ms N]");
            return ExitCode::from(2);
        };
        delay = Duration::from_millis(millis);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(delay)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(delay: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let upstreams = [("billing", "http://billing/"), ("search", "http://search/")]
        .into_iter()
        .map(|(name, url)| (name.to_owned(), url.to_owned()))
        .collect();
    let state = AppState {
        upstreams: Arc::new(upstreams),
        warmup: StartupGate::new(),
        release: Arc::new(Notify::new()),
    };
    let (registry, _runner) = Runner::spawn(&state)?;
    let health = HealthService::new(registry.clone()).details(true);
    let app = Router::new()
        .route("/", get(|| async { "hello from the app" }))
        .route("/slow", get(slow))
        .merge(router(&health))
        .route_service("/ready", health.probe(Probe::Readiness))
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    tokio::spawn(release_on_stdin(Arc::clone(&state.release)));
    state.warmup.done();

    let signal = async {
        shutdown_signal().await;
        println!("shutdown: signal");
    };
    let drained = drain(registry.clone(), delay, signal);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            drained.await;
            println!("shutdown: drained");
        })
        .await?;
    registry.stop();
    println!("stopped");
    Ok(())
}

/// A request that takes as long as the test says: answered once a line arrives on
/// standard input.
async fn slow(State(state): State<AppState>) -> &'static str {
    println!("slow: started");
    // `notify_one` keeps a permit if the line came first: no wake-up is lost.
    state.release.notified().await;
    "slow: done"
}

async fn release_on_stdin(release: Arc<Notify>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {
        release.notify_one();
    }
}
