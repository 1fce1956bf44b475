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

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use health_core::{
    Check, CheckKind, HealthCheck, Heartbeat, Registry, Report, StartupGate, Status, TcpCheck,
};
use health_http::{HealthService, HttpCheck, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

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

const HELP: &str = "\
The health example service: /livez, /readyz and /startupz for a realistic AppState.

USAGE:
    service [OPTIONS]

OPTIONS:
    --addr HOST:PORT          where probes are served [default: 127.0.0.1:8080]
    --admin-addr HOST:PORT    the admin port that breaks things on purpose [default: 127.0.0.1:8081]
    --dependency URL          a dependency to check on readiness, tcp://HOST:PORT or
                              http://HOST:PORT/PATH; repeatable; replaces the embedded one
    --drain DURATION          how long readiness fails before the server stops accepting,
                              after SIGTERM or Ctrl-C [default: 5s]
    --warmup DURATION         the simulated start-up time [default: 3s]
    -h, --help                print this help

DURATIONS are integers with a unit: 500ms, 5s, 1m.

ADMIN ROUTES (GET or POST on --admin-addr):
    /dependency/down          the embedded dependency refuses connections
    /dependency/hang          it accepts and never answers (the check times out)
    /dependency/up            it answers 200 again
    /worker/stall             the worker loop stops beating (liveness fails after 5s)
    /worker/resume            it beats again
    /runner/stop              the background checker dies (readiness fails as stale)

EXIT STATUS: 0 after a graceful shutdown, 2 on a bad flag, 1 on another error.
";

struct Options {
    addr: String,
    admin_addr: String,
    dependencies: Vec<Dependency>,
    drain: Duration,
    warmup: Duration,
}

/// Parses the flags; `Ok(None)` means `--help` was printed.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        addr: "127.0.0.1:8080".into(),
        admin_addr: "127.0.0.1:8081".into(),
        dependencies: Vec::new(),
        drain: Duration::from_secs(5),
        warmup: Duration::from_secs(3),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag.clone(), None),
        };
        if !matches!(
            name.as_str(),
            "--addr" | "--admin-addr" | "--dependency" | "--drain" | "--warmup"
        ) {
            return Err(format!("unknown flag {flag:?} (see --help)"));
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{name} needs a value (see --help)"))?;
        match name.as_str() {
            "--addr" => options.addr = parse_host_port(&name, &value)?,
            "--admin-addr" => options.admin_addr = parse_host_port(&name, &value)?,
            "--dependency" => options.dependencies.push(parse_dependency(&value)?),
            "--drain" => options.drain = parse_duration(&name, &value)?,
            _ => options.warmup = parse_duration(&name, &value)?,
        }
    }
    Ok(Some(options))
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

fn parse_host_port(flag: &str, text: &str) -> Result<String, String> {
    if is_host_port(text) {
        Ok(text.to_owned())
    } else {
        Err(format!("{flag} {text:?}: expected HOST:PORT"))
    }
}

fn parse_dependency(url: &str) -> Result<Dependency, String> {
    if let Some(address) = url.strip_prefix("tcp://") {
        if !is_host_port(address) {
            return Err(format!("--dependency {url:?}: expected tcp://HOST:PORT"));
        }
        return Ok(Dependency::Tcp(TcpCheck::new(address)));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|err| format!("--dependency {url:?}: {err}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(format!(
            "--dependency {url:?}: expected tcp://HOST:PORT or http://HOST:PORT/PATH"
        ));
    }
    Ok(Dependency::Http(
        HttpCheck::new(uri).timeout(Duration::from_millis(400)),
    ))
}

fn parse_duration(flag: &str, text: &str) -> Result<Duration, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{flag} {text:?}: expected an integer with a unit, like 5s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("{flag} {text:?}: the unit must be ms, s or m")),
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

/// What the admin port can break.
struct Controls {
    dependency: Option<EmbeddedDependency>,
    stalled: Arc<AtomicBool>,
    /// The runner, until `/runner/stop` drops it.
    runner: std::sync::Mutex<Option<health_core::Runner>>,
}

impl Controls {
    fn apply(&self, path: &str) -> (u16, String) {
        let dependency = |mode: Mode| match &self.dependency {
            Some(dependency) => {
                dependency.set(mode);
                (200, format!("embedded dependency is now {mode:?}\n"))
            }
            None => (
                409,
                "no embedded dependency: --dependency was given\n".into(),
            ),
        };
        match path {
            "/dependency/up" => dependency(Mode::Up),
            "/dependency/down" => dependency(Mode::Down),
            "/dependency/hang" => dependency(Mode::Hang),
            "/worker/stall" => {
                self.stalled.store(true, Ordering::Relaxed);
                (
                    200,
                    "worker stalled: liveness fails after 5s of silence\n".into(),
                )
            }
            "/worker/resume" => {
                self.stalled.store(false, Ordering::Relaxed);
                (200, "worker beating again\n".into())
            }
            "/runner/stop" => {
                let runner = self.runner.lock().map(|mut runner| runner.take());
                drop(runner);
                (
                    200,
                    "runner stopped: results go stale, readiness fails\n".into(),
                )
            }
            _ => (404, format!("unknown admin route {path}; see --help\n")),
        }
    }
}

/// The admin port: one tiny request per connection, no keep-alive.
async fn serve_admin(listener: TcpListener, controls: Controls) {
    let controls = Arc::new(controls);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let controls = Arc::clone(&controls);
        tokio::spawn(async move {
            let _ = answer_admin(stream, &controls).await;
        });
    }
}

async fn answer_admin(mut stream: TcpStream, controls: &Controls) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let path = head
        .split_whitespace()
        .nth(1)
        .map_or("/", |target| target.split('?').next().unwrap_or(target));
    let (status, body) = controls.apply(path);
    tracing::info!(target: "admin", "{path}: {}", body.trim_end());
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await
}

/// Reads a request head (up to 8 KiB) as text.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 8 * 1024 {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

/// How the embedded dependency behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Up = 0,
    Down = 1,
    Hang = 2,
}

/// A stand-in for a real downstream service: answers `200 ok` over HTTP on loopback,
/// or refuses connections, or accepts and never answers.
struct EmbeddedDependency {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changed: Arc<Notify>,
}

impl EmbeddedDependency {
    async fn start() -> std::io::Result<EmbeddedDependency> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let dependency = EmbeddedDependency {
            addr: listener.local_addr()?,
            mode: Arc::new(AtomicU8::new(Mode::Up as u8)),
            changed: Arc::new(Notify::new()),
        };
        tokio::spawn(run_dependency(
            listener,
            Arc::clone(&dependency.mode),
            Arc::clone(&dependency.changed),
        ));
        Ok(dependency)
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
        self.changed.notify_waiters();
    }
}

fn mode(mode: &AtomicU8) -> Mode {
    match mode.load(Ordering::Relaxed) {
        0 => Mode::Up,
        1 => Mode::Down,
        _ => Mode::Hang,
    }
}

async fn run_dependency(listener: TcpListener, state: Arc<AtomicU8>, changed: Arc<Notify>) {
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    loop {
        let notified = changed.notified();
        if mode(&state) == Mode::Down {
            // Close the socket so connections are refused, as with a dead process.
            listener = None;
            notified.await;
            continue;
        }
        let current = match (listener.take(), addr) {
            (Some(listener), _) => listener,
            (None, Some(addr)) => match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(target: "dependency", "cannot re-bind {addr}: {err}");
                    notified.await;
                    continue;
                }
            },
            (None, None) => return,
        };
        tokio::select! {
            accepted = current.accept() => {
                if let Ok((stream, _)) = accepted {
                    let (state, changed) = (Arc::clone(&state), Arc::clone(&changed));
                    tokio::spawn(answer_dependency(stream, state, changed));
                }
            }
            () = notified => {}
        }
        listener = Some(current);
    }
}

async fn answer_dependency(mut stream: TcpStream, state: Arc<AtomicU8>, changed: Arc<Notify>) {
    if read_head(&mut stream).await.is_err() {
        return;
    }
    // Hang: hold the connection open and silent until the mode changes.
    while mode(&state) == Mode::Hang {
        changed.notified().await;
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await;
}
