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
//! makes that dependency fail, hang and recover, the worker loop stall, and every worker
//! of the application's runtime block, so each probe can be watched changing state.
//!
//! The probes are served on a thread and runtime of their own (`Serve::spawn`): when the
//! application's runtime is blocked they still answer within the kubelet's timeout, and
//! the runtime stall check says what is wrong. With health-http's `grpc` feature (which
//! the workspace's test run enables), the same port also answers `grpc.health.v1.Health`
//! over h2c, for Kubernetes `grpc` probes and gRPC clients:
//!
//! ```text
//! cargo run --release -p health-http --features grpc --example service
//! ```

mod admin;
mod dependency;
mod flags;
mod postgres;

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_core::{
    Check, CheckKind, HealthCheck, Heartbeat, PrometheusCollector, Registry, Report, RuntimeLag,
    RuntimeStall, StartupGate, TcpCheck,
};
use health_http::{HealthService, HttpCheck, serve};
use tokio::net::TcpListener;

use crate::admin::{Controls, serve_admin};
use crate::dependency::EmbeddedDependency;
use crate::flags::{Details, HELP, Options, parse_args, parse_dependency};

/// The service's state: the fields the service uses are also its health checks.
#[derive(HealthCheck)]
#[health(interval = "2s", timeout = "500ms")]
struct AppState {
    /// Readiness: the downstream systems this service needs, one check per
    /// `--dependency` (`dependency.0`, `dependency.1`, …), so `?verbose` names the one that
    /// failed and `?exclude=dependency.1` skips one. Two consecutive passes bring a check
    /// back, so one lucky answer from a flapping dependency does not send traffic.
    #[health(readiness, each, name = "dependency", success_threshold = 2)]
    dependencies: Vec<Dependency>,
    /// Liveness: the worker loop beats every second; five silent seconds mean it is wedged.
    #[health(liveness, max_silence = "5s")]
    worker: Heartbeat,
    /// Startup: the simulated warm-up (caches loaded, migrations checked).
    #[health(startup)]
    warmup: StartupGate,
    /// Liveness: the application's runtime runs a 100 ms ticker; two seconds without a
    /// tick mean every worker is stuck (a blocking call, a deadlock), and only a restart
    /// helps.
    #[health(liveness, max_silence = "2s")]
    runtime: RuntimeStall,
    /// Readiness: ticks running over 500 ms late say the runtime is saturated. Not
    /// critical here, so it warns (`?verbose`, health+json) without leaving the load
    /// balancer; remove `critical = false` to shed load instead.
    #[health(readiness, critical = false, max_silence = "500ms")]
    runtime_lag: RuntimeLag,
}

/// One `--dependency`: a TCP connect or an HTTP GET.
enum Dependency {
    Tcp(TcpCheck),
    Http(HttpCheck),
}

impl Check for Dependency {
    const KIND: CheckKind = CheckKind::Dependency;

    async fn check(&self) -> Report {
        match self {
            Dependency::Tcp(check) => check.check().await,
            Dependency::Http(check) => check.check().await,
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
    // A std listener: the probe server registers it with its own runtime.
    let listener = std::net::TcpListener::bind(&options.addr)
        .map_err(|err| format!("--addr {}: {err}", options.addr))?;
    let admin = bind(&options.admin_addr, "--admin-addr").await?;
    let admin_addr = local_addr(&admin)?;

    // Started here, on the runtime it watches.
    let runtime = RuntimeStall::start();
    let state = Arc::new(AppState {
        dependencies: options.dependencies,
        worker: Heartbeat::new(),
        warmup: StartupGate::new(),
        runtime_lag: runtime.lag(),
        runtime,
    });
    let mut builder = Registry::builder();
    builder.register(&state).map_err(|err| err.to_string())?;
    let postgres = options.postgres.map(postgres::pool);
    if let Some(pool) = &postgres {
        let database = Arc::new(postgres::Database {
            postgres: pool.clone(),
        });
        builder.register(&database).map_err(|err| err.to_string())?;
    }
    let (registry, runner) = builder.spawn();

    let stalled = Arc::new(AtomicBool::new(false));
    tokio::spawn(worker(Arc::clone(&state), Arc::clone(&stalled)));
    tokio::spawn(warm_up(Arc::clone(&state), options.warmup));
    let controls = Controls {
        dependency: embedded,
        stalled,
        runner: std::sync::Mutex::new(Some(runner)),
        postgres: postgres.clone(),
        held: postgres::Held::default(),
    };
    tokio::spawn(serve_admin(admin, controls));

    #[cfg(feature = "grpc")]
    let grpc = health_http::grpc::GrpcHealth::new(registry.clone())
        .map_err(|err| format!("gRPC health: {err}"))?;
    // The checks' metrics at /metrics on the probe port, beside whatever the service
    // registers of its own in the same registry.
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(PrometheusCollector::new(&registry)));
    // Failure reasons are error strings from dependencies: withheld unless asked for.
    // Not by peer address: behind a mesh sidecar every peer is loopback.
    let service = HealthService::new(registry).metrics(Arc::new(metrics));
    let withheld = matches!(options.details, Details::Withheld);
    let service = match options.details {
        Details::Withheld => service,
        Details::Everyone => service.details(true),
        Details::Token(token) => service.details_when(move |parts| {
            parts
                .headers
                .get("x-health-token")
                .is_some_and(|sent| same_secret(sent.as_bytes(), token.as_bytes()))
        }),
    };
    // The probes get a thread and a runtime of their own: nothing this runtime does
    // (a CPU burst, a blocking call) can make the kubelet time out.
    let probes = serve(listener, service).drain_delay(options.drain);
    // gRPC health on the same port: the kubelet's `grpc` probes and gRPC clients.
    #[cfg(feature = "grpc")]
    let probes = probes.grpc(grpc);
    let probes = probes
        .spawn()
        .map_err(|err| format!("cannot start the probe server: {err}"))?;
    print_banner(
        probes.local_addr(),
        admin_addr,
        &state.dependencies,
        withheld,
    );
    if let Some(pool) = &postgres {
        println!("postgres: {}", postgres::describe(pool));
    }

    shutdown_signal().await;
    // Readiness fails at once; the probe server drains on its thread, then stops.
    probes.begin_shutdown();
    tokio::task::spawn_blocking(move || probes.join())
        .await
        .map_err(|err| format!("the probe server: {err}"))?;
    tracing::info!("drained and stopped; bye");
    Ok(())
}

/// Compares a sent token with the secret in constant time: how long the comparison takes
/// says nothing about how many leading bytes matched. (The length may show; it is not
/// the secret.)
fn same_secret(sent: &[u8], secret: &[u8]) -> bool {
    sent.len() == secret.len()
        && sent
            .iter()
            .zip(secret)
            .fold(0, |diff, (a, b)| std::hint::black_box(diff | (a ^ b)))
            == 0
}

async fn bind(addr: &str, flag: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| format!("{flag} {addr}: {err}"))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener.local_addr().map_err(|err| err.to_string())
}

fn print_banner(addr: SocketAddr, admin: SocketAddr, dependencies: &[Dependency], withheld: bool) {
    // The first two lines are machine-read by the end-to-end tests: keep their shape.
    println!("probes listening on http://{addr}");
    println!("admin listening on http://{admin}");
    for (index, dependency) in dependencies.iter().enumerate() {
        println!("check dependency.{index}: {dependency}");
    }
    println!(
        "\nTry:\n  curl -i http://{addr}/readyz\n  curl http://{addr}/readyz?verbose\n  \
         curl -H 'Accept: application/health+json' http://{addr}/readyz\n  \
         curl http://{addr}/metrics             # runs, durations, transitions, statuses\n  \
         curl http://{admin}/dependency/down    # then /dependency/hang, /dependency/up\n  \
         curl http://{admin}/worker/stall       # liveness fails after 5s; /worker/resume\n  \
         curl http://{admin}/runtime/block?secs=5  # every worker blocked: probes still answer, \
         liveness fails after 2s\n\
         Stop with Ctrl-C or SIGTERM: readiness fails at once, the server drains, then exits."
    );
    #[cfg(feature = "grpc")]
    println!(
        "gRPC health (grpc.health.v1.Health, h2c) answers on the same port: service \"\" \
         (liveness, NOT_SERVING once shutdown begins), liveness, readiness, startup, and each \
         check's name."
    );
    if withheld {
        println!(
            "Failure reasons are withheld (\"reason withheld\"): restart with --details, or with \
             --details-token T and send -H 'X-Health-Token: T'."
        );
    }
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
