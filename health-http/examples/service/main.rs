//! The example service: a realistic `AppState` whose fields are checks, served on
//! `/livez`, `/readyz` and `/startupz`, with an admin port to make each probe change.
//!
//! ```text
//! cargo run --release -p health-http --example service            # embedded dependency
//! cargo run --release -p health-http --example service -- --help  # every flag
//! ```
//!
//! With no arguments it starts a dependency of its own on loopback (a tiny HTTP server),
//! so every probe means something, and prints the curl commands to try. The admin port
//! makes that dependency fail, hang and recover, and the worker loop stall, so each probe
//! can be watched changing state.

mod admin;
mod dependency;
mod flags;

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_core::{
    Check, CheckKind, HealthCheck, Heartbeat, Registry, Report, StartupGate, Status, TcpCheck,
};
use health_http::{HealthService, HttpCheck, serve};
use tokio::net::TcpListener;

use crate::admin::{Controls, serve_admin};
use crate::dependency::EmbeddedDependency;
use crate::flags::{HELP, Options, parse_args, parse_dependency};

/// The service's state: the fields the service uses are also its health checks.
#[derive(HealthCheck)]
#[health(interval = "2s", timeout = "500ms")]
struct AppState {
    /// Readiness: the downstream systems this service needs. Two consecutive passes bring
    /// it back, so one lucky answer from a flapping dependency does not send traffic.
    #[health(readiness, success_threshold = 2)]
    dependency: Dependencies,
    /// Liveness: the worker loop beats every second; five silent seconds mean it is wedged.
    #[health(liveness, max_silence = "5s")]
    worker: Heartbeat,
    /// Startup: the simulated warm-up (caches loaded, migrations checked).
    #[health(startup)]
    warmup: StartupGate,
}

/// Every `--dependency`, checked in turn; the check fails if any of them fails.
struct Dependencies(Vec<Dependency>);

enum Dependency {
    Tcp(TcpCheck),
    Http(HttpCheck),
}

impl Check for Dependencies {
    const KIND: CheckKind = CheckKind::Dependency;

    async fn check(&self) -> Report {
        let mut failures = Vec::new();
        for dependency in &self.0 {
            let report = match dependency {
                Dependency::Tcp(check) => check.check().await,
                Dependency::Http(check) => check.check().await,
            };
            if report.status() == Status::Unhealthy {
                failures.push(report.reason().unwrap_or("failed").to_owned());
            }
        }
        if failures.is_empty() {
            Report::healthy()
        } else {
            Report::unhealthy(failures.join("; "))
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dependency::Tcp(check) => write!(f, "tcp://{}", check.address()),
            Dependency::Http(check) => write!(f, "{}", check.uri()),
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr, so stdout holds only the banner (which scripts may read).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut options: Options) -> Result<(), String> {
    let embedded = if options.dependencies.is_empty() {
        let dependency = EmbeddedDependency::start()
            .await
            .map_err(|err| format!("cannot start the embedded dependency: {err}"))?;
        let uri = format!("http://{}/", dependency.addr);
        options.dependencies.push(parse_dependency(&uri)?);
        Some(dependency)
    } else {
        None
    };
    let listener = bind(&options.addr, "--addr").await?;
    let admin = bind(&options.admin_addr, "--admin-addr").await?;
    let (addr, admin_addr) = (local_addr(&listener)?, local_addr(&admin)?);

    let state = Arc::new(AppState {
        dependency: Dependencies(options.dependencies),
        worker: Heartbeat::new(),
        warmup: StartupGate::new(),
    });
    let mut builder = Registry::builder();
    builder.register(&state).map_err(|err| err.to_string())?;
    let (registry, runner) = builder.spawn();

    let stalled = Arc::new(AtomicBool::new(false));
    tokio::spawn(worker(Arc::clone(&state), Arc::clone(&stalled)));
    tokio::spawn(warm_up(Arc::clone(&state), options.warmup));
    let controls = Controls {
        dependency: embedded,
        stalled,
        runner: std::sync::Mutex::new(Some(runner)),
    };
    tokio::spawn(serve_admin(admin, controls));

    print_banner(addr, admin_addr, &state.dependency);
    // Failure reasons are error strings from dependencies: show them to loopback peers
    // (you, with curl) and withhold them from everyone else.
    let service = HealthService::new(registry).details_when(|parts| {
        parts
            .extensions
            .get::<SocketAddr>()
            .is_some_and(|peer| peer.ip().is_loopback())
    });
    serve(listener, service)
        .drain_delay(options.drain)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    tracing::info!("drained and stopped; bye");
    Ok(())
}

async fn bind(addr: &str, flag: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| format!("{flag} {addr}: {err}"))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener.local_addr().map_err(|err| err.to_string())
}

fn print_banner(addr: SocketAddr, admin: SocketAddr, dependencies: &Dependencies) {
    let checked: Vec<_> = dependencies.0.iter().map(ToString::to_string).collect();
    // The first two lines are machine-read by the end-to-end tests: keep their shape.
    println!("probes listening on http://{addr}");
    println!("admin listening on http://{admin}");
    println!("dependency: {}", checked.join(", "));
    println!(
        "\nTry:\n  curl -i http://{addr}/readyz\n  curl http://{addr}/readyz?verbose\n  \
         curl -H 'Accept: application/health+json' http://{addr}/readyz\n  \
         curl http://{admin}/dependency/down    # then /dependency/hang, /dependency/up\n  \
         curl http://{admin}/worker/stall       # liveness fails after 5s; /worker/resume\n\
         Stop with Ctrl-C or SIGTERM: readiness fails at once, the server drains, then exits."
    );
}

/// The worker loop: beats every second unless stalled from the admin port.
async fn worker(state: Arc<AppState>, stalled: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if !stalled.load(Ordering::Relaxed) {
            state.worker.beat();
        }
    }
}

async fn warm_up(state: Arc<AppState>, warmup: Duration) {
    tokio::time::sleep(warmup).await;
    state.warmup.done();
    tracing::info!("warm-up finished");
}

/// Completes on Ctrl-C or SIGTERM (the kubelet's stop signal).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!("cannot listen for SIGTERM: {err}; Ctrl-C only");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal: readiness fails from now on, draining");
}
