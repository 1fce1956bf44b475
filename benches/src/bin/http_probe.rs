//! Side-by-side HTTP readiness probes on loopback, one client, one run.
//!
//! ```text
//! cargo run --release -p health-benches --bin http_probe -- \
//!     [--conns 32] [--secs 5] [--threads N] [--rounds 1]
//! ```
//!
//! Starts each server of [`PEERS`] on `127.0.0.1:0` in turn, loads it with the same
//! in-process client ([`Load`]) requesting `GET /readyz` and prints requests/s, p50 and p99
//! next to the floor's (bare hyper answering `ok` to any path, `/readyz` included, without
//! reading any state).
//!
//! `--serve NAME [--addr 127.0.0.1:18084]` instead runs one of the servers alone until
//! killed, for an external client such as `wrk` (`/work/shared/peers/http-peers.sh`); NAME is
//! one of `floor`, `floor-headers`, `health-service`, `health-http`, `health-http-hung`,
//! `axum-rwlock`, `checks-on-request`.
//!
//! With `--rounds R` the whole list is measured `R` times in turn and each server's rounds
//! are pooled ([`Report::merge`]): a busy moment of a shared machine then lands on one round
//! of every server rather than on one server.
//!
//! `--saturated spin|sleep [--secs 10]` instead runs the `saturated` scenario (see the
//! [`saturated`] module): probes while every worker of the application's runtime is held
//! by a task that spins (`spin`: 100% CPU) or blocks in a system call (`sleep`).
//!
//! # Runtime
//!
//! Client and servers share one multi-threaded tokio runtime with one worker per core
//! (`--threads`, default: the available parallelism, 2 on the project's machines). The
//! alternative, one core for the servers and one for the client, makes whichever side is
//! slower the bottleneck: if it is the client, every server ties with the floor and the table
//! says nothing. Sharing makes every cycle a server spends cost throughput. The price is
//! dilution: a ratio to the floor compares client + server costs, so it understates the
//! difference between servers alone. The ratios are still comparable across rows, which is
//! what the goals are about, since every row has the same client and scheduler.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use health_benches::Contender;
use health_benches::load::{Load, Report, load_average};
use health_benches::peers;
use health_benches::rwlock_hashmap::RwLockHashMap;
use health_core::{CheckHandle, CheckSpec, Registry, RegistryBuilder, Runner, Schedule};
use health_http::HealthService;
use tokio::net::TcpListener;

const USAGE: &str = "usage: http_probe [--conns N (32)] [--secs S (5)] [--threads T (cores)] \
                     [--rounds R (1)]\n       http_probe --serve NAME [--addr A (127.0.0.1:18084)] \
                     [--threads T (cores)]\n       http_probe --saturated spin|sleep [--secs S (5)]";

/// Requests before the window that are not recorded: connection set-up and warm caches.
const WARMUP: Duration = Duration::from_millis(500);

/// Checks in the servers that hold state, as in `probe_reads`' idle scenario.
const CHECKS: usize = 8;

/// The servers measured, in this order. The first is the floor the others are divided by.
///
/// The health-http rows decompose its cost: [`Peer::FloorHeaders`] is the floor with
/// health-http's response headers, [`Peer::HealthServiceOnHyper`] adds the service on the
/// same accept loop, [`Peer::HealthHttp`] swaps that loop for health-http's own server, and
/// [`Peer::HealthHttpHung`], measured right after it, adds a hanging dependency.
const PEERS: [Peer; 7] = [
    Peer::Floor,
    Peer::FloorHeaders,
    Peer::HealthServiceOnHyper,
    Peer::HealthHttp,
    Peer::HealthHttpHung,
    Peer::AxumRwLock,
    Peer::ChecksOnRequest,
];

/// The path every server is asked for.
const PATH: &str = "/readyz";

/// How often the hung dependency's check is started by the health-core runner.
const HUNG_INTERVAL: Duration = Duration::from_millis(100);

/// How long each run of the hung dependency's check is given before it is dropped and
/// recorded as Unhealthy ("timed out after 50ms").
const HUNG_TIMEOUT: Duration = Duration::from_millis(50);

/// The hung dependency's name in the registry.
const HUNG_NAME: &str = "hung-dependency";

/// Runs of the hung dependency's check started so far. None completes: each ends in its
/// timeout.
static HUNG_RUNS: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Bare hyper answering `ok` to anything: [`peers::serve_floor`].
    Floor,
    /// The floor with health-http's headers: [`peers::serve_floor_with_headers`].
    FloorHeaders,
    /// health-http as users run it: [`HealthService`] over [`health_http::serve`], with
    /// [`CHECKS`] pushed checks, all healthy.
    HealthHttp,
    /// The same service on the floor's accept loop ([`peers::serve_hyper`]): the difference
    /// from [`Peer::HealthHttp`] is `serve`'s connection handling (header timeout, connection
    /// bound), the difference from [`Peer::FloorHeaders`] is the service.
    HealthServiceOnHyper,
    AxumRwLock,
    ChecksOnRequest,
    /// [`Peer::HealthHttp`] plus one scheduled check whose future never completes.
    HealthHttpHung,
}

impl Peer {
    /// The name `--serve` takes.
    fn slug(self) -> &'static str {
        match self {
            Peer::Floor => "floor",
            Peer::FloorHeaders => "floor-headers",
            Peer::HealthServiceOnHyper => "health-service",
            Peer::HealthHttp => "health-http",
            Peer::HealthHttpHung => "health-http-hung",
            Peer::AxumRwLock => "axum-rwlock",
            Peer::ChecksOnRequest => "checks-on-request",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Peer::Floor => "bare hyper (floor)",
            Peer::FloorHeaders => "floor + health-http headers",
            Peer::HealthHttp => "health-http (serve)",
            Peer::HealthServiceOnHyper => "HealthService, floor's loop",
            Peer::AxumRwLock => "axum + RwLock<HashMap>",
            Peer::ChecksOnRequest => "checks on request (Go)",
            Peer::HealthHttpHung => "health-http, hung dependency",
        }
    }

    async fn serve(self, listener: TcpListener) -> io::Result<()> {
        match self {
            Peer::Floor => peers::serve_floor(listener).await,
            Peer::FloorHeaders => peers::serve_floor_with_headers(listener).await,
            Peer::HealthHttp => {
                // The handles live as long as the server, as in a service that reports.
                let (registry, _checks) = healthy_registry();
                health_http::serve(listener, HealthService::new(registry)).await;
                Ok(())
            }
            Peer::HealthServiceOnHyper => {
                let (registry, _checks) = healthy_registry();
                peers::serve_hyper(listener, HealthService::new(registry)).await
            }
            Peer::AxumRwLock => {
                let checks = Arc::new(RwLockHashMap::new(CHECKS));
                peers::serve_axum_rwlock(listener, checks).await
            }
            Peer::ChecksOnRequest => peers::serve_checks_on_request(listener).await,
            Peer::HealthHttpHung => {
                // The runner lives as long as the server: dropping it (when this task is
                // aborted) stops the check's task.
                let (registry, _checks, _runner) = hung_registry();
                health_http::serve(listener, HealthService::new(registry)).await;
                Ok(())
            }
        }
    }
}

/// Pushes [`CHECKS`] readiness checks, `check-0 ..`: checks that report from the service's
/// own code (a consumer loop, a pool callback), as a typical service has a handful of.
fn push_checks(builder: &mut RegistryBuilder) -> Vec<CheckHandle> {
    (0..CHECKS)
        .map(|i| {
            let spec = CheckSpec::new(format!("check-{i}")).readiness();
            builder.push(spec).expect("names are valid and distinct")
        })
        .collect()
}

/// A registry of [`push_checks`]' checks, all reported healthy.
fn healthy_registry() -> (Registry, Vec<CheckHandle>) {
    let mut builder = Registry::builder();
    let checks = push_checks(&mut builder);
    let registry = builder.build();
    checks.iter().for_each(CheckHandle::healthy);
    (registry, checks)
}

/// The [`healthy_registry`] plus [`HUNG_NAME`], scheduled on the health-core runner
/// every [`HUNG_INTERVAL`] with a [`HUNG_TIMEOUT`], whose future never completes: a
/// dependency that accepts the connection and never answers.
///
/// It is non-critical, so readiness is `Warn` and `/readyz` still answers `200 ok`, the same
/// bytes as without it: the rows compare the same answer, with and without a dependency
/// hanging behind it. (A critical one would turn the answer into the prepared 503, a
/// different answer, not a slower one.) Its results carry a `max_age`, so every probe also
/// reads the clock once, as a registry with scheduled checks does.
///
/// # Panics
///
/// Outside a tokio runtime, as [`RegistryBuilder::spawn`].
fn hung_registry() -> (Registry, Vec<CheckHandle>, Runner) {
    let mut builder = Registry::builder();
    let checks = push_checks(&mut builder);
    builder
        .schedule(
            CheckSpec::new(HUNG_NAME).readiness().critical(false),
            Schedule::every(HUNG_INTERVAL).timeout(HUNG_TIMEOUT),
            health_core::dependency_fn(|| {
                // Ordering: Relaxed; a count read once at the end, guarding nothing.
                HUNG_RUNS.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>()
            }),
        )
        .expect("the name is valid and distinct");
    let (registry, runner) = builder.spawn();
    checks.iter().for_each(CheckHandle::healthy);
    (registry, checks, runner)
}

#[derive(Debug)]
struct Args {
    conns: usize,
    secs: u64,
    threads: usize,
    rounds: usize,
    /// `--serve`: run this server alone on `addr` instead of measuring.
    serve: Option<Peer>,
    addr: SocketAddr,
    /// `--saturated`: run the saturated scenario, holding the workers this way.
    saturated: Option<saturated::Hold>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        conns: 32,
        secs: 5,
        threads: std::thread::available_parallelism().map_or(2, NonZeroUsize::get),
        rounds: 1,
        serve: None,
        addr: SocketAddr::from(([127, 0, 0, 1], 18084)),
        saturated: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(USAGE)?;
        let bad = |_| format!("{flag}: not a positive number: {value}\n{USAGE}");
        match flag.as_str() {
            "--conns" => args.conns = value.parse().map_err(bad)?,
            "--secs" => args.secs = value.parse().map_err(bad)?,
            "--threads" => args.threads = value.parse().map_err(bad)?,
            "--rounds" => args.rounds = value.parse().map_err(bad)?,
            "--serve" => {
                let peer = PEERS.into_iter().find(|peer| peer.slug() == value);
                args.serve =
                    Some(peer.ok_or_else(|| format!("--serve: no server {value}\n{USAGE}"))?);
            }
            "--saturated" => {
                args.saturated = Some(match value.as_str() {
                    "spin" => saturated::Hold::Spin,
                    "sleep" => saturated::Hold::Sleep,
                    _ => return Err(format!("--saturated: spin or sleep, not {value}\n{USAGE}")),
                });
            }
            "--addr" => {
                args.addr = value
                    .parse()
                    .map_err(|_| format!("--addr: not an address: {value}\n{USAGE}"))?;
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    if args.conns == 0 || args.secs == 0 || args.threads == 0 || args.rounds == 0 {
        return Err(USAGE.to_owned());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(hold) = args.saturated {
        return match saturated::run(hold, Duration::from_secs(args.secs)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("http_probe: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .map_err(Box::<dyn Error>::from)
        .and_then(|runtime| {
            let result = match args.serve {
                Some(peer) => runtime.block_on(serve_alone(peer, args.addr)),
                None => runtime.block_on(run(&args)),
            };
            result.map_err(Box::from)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_probe: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> io::Result<()> {
    let load = Load {
        connections: args.conns,
        warmup: WARMUP,
        window: Duration::from_secs(args.secs),
    };
    println!(
        "GET {PATH}, {} keep-alive connections, {} s per server after {} ms warm-up, \
         {} round(s), {} tokio workers shared by client and servers, 127.0.0.1",
        args.conns,
        args.secs,
        WARMUP.as_millis(),
        args.rounds,
        args.threads,
    );
    println!("load average before: {}", load_average());
    let mut rows: Vec<(&str, Report)> = Vec::new();
    for round in 0..args.rounds {
        for (i, peer) in PEERS.into_iter().enumerate() {
            let report = measure(peer, &load).await?;
            if round == 0 {
                rows.push((peer.name(), report));
            } else {
                rows[i].1.merge(report);
            }
        }
    }
    println!("load average after:  {}", load_average());
    print_table(&rows);
    // Ordering: Relaxed; the count is only reported, and the runs' tasks are gone.
    println!(
        "hung dependency: {} check runs started during its row(s), none completed \
         (every {} ms, each dropped at its {} ms timeout)",
        HUNG_RUNS.load(Ordering::Relaxed),
        HUNG_INTERVAL.as_millis(),
        HUNG_TIMEOUT.as_millis(),
    );
    Ok(())
}

/// Runs `peer` on `addr` until the process is killed.
async fn serve_alone(peer: Peer, addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("http_probe: {} on http://{addr}{PATH}", peer.name());
    peer.serve(listener).await
}

/// Starts `peer` on a fresh loopback port, loads it with `load` and stops it.
async fn measure(peer: Peer, load: &Load) -> io::Result<Report> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(peer.serve(listener));
    let report = load.run(addr, PATH).await;
    // Stops accepting; the connections ended with the client's.
    server.abort();
    // Waits for the abort, so that the next server does not start beside this one's
    // tasks (the hung dependency's runner stops when its server future is dropped).
    let _ = server.await;
    report.map_err(|e| io::Error::other(format!("{}: {e}", peer.name())))
}

fn print_table(rows: &[(&str, Report)]) {
    let Some((_, floor)) = rows.first() else {
        return;
    };
    println!(
        "{:<28} {:>10} {:>8} {:>8} {:>13} {:>11}",
        "impl", "req/s", "p50 µs", "p99 µs", "req/s÷floor", "p99÷floor"
    );
    for (name, report) in rows {
        let p99 = report.percentile(990);
        println!(
            "{:<28} {:>10.0} {:>8} {:>8} {:>13.2} {:>11.2}",
            name,
            report.per_second(),
            report.percentile(500),
            p99,
            report.per_second() / floor.per_second(),
            f64::from(p99) / f64::from(floor.percentile(990)),
        );
    }
}

/// The `saturated` scenario: probes while the application's runtime is 100% held.
///
/// For each row, a fresh application runtime with tokio's default worker count (one per
/// core) gets one task per worker that holds it until the window ends: `spin` keeps the
/// core busy (a CPU-heavy handler), `sleep` blocks in a system call (a blocking driver in
/// async code). Each task waits at a barrier until every worker holds one, so no worker is
/// free during the window. Then two clients on threads of their own (blocking sockets, no
/// runtime) probe `/livez` and `/readyz` in turn every [`EVERY`](saturated::EVERY) with the
/// kubelet's 1 s timeout: one opens a connection per probe as the kubelet does, the other
/// keeps one alive.
///
/// The rows serve the same 8 healthy readiness checks: health-http's `serve` spawned on the
/// application runtime, the same served by `Serve::spawn` on a thread of its own, and axum
/// with an `RwLock<HashMap>` on the application runtime.
mod saturated {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    use health_benches::Contender as _;
    use health_benches::load::{Connect, Probed, Prober, load_average};
    use health_benches::peers;
    use health_benches::rwlock_hashmap::RwLockHashMap;
    use health_http::{HealthService, ProbeServer};
    use tokio::runtime::Runtime;

    use super::{CHECKS, healthy_registry};

    /// The time between the starts of two probes of one client.
    pub(super) const EVERY: Duration = Duration::from_millis(5);

    /// The kubelet's default `timeoutSeconds`.
    const TIMEOUT: Duration = Duration::from_secs(1);

    const PATHS: [&str; 2] = ["/livez", "/readyz"];

    /// How the application's workers are held.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Hold {
        /// Busy-looping: the workers' cores are 100% busy.
        Spin,
        /// Blocked in `std::thread::sleep`: the workers are stuck, their cores idle.
        Sleep,
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) enum Row {
        Shared,
        Dedicated,
        Axum,
    }

    impl Row {
        fn name(self) -> &'static str {
            match self {
                Row::Shared => "health-http serve, app runtime",
                Row::Dedicated => "health-http Serve::spawn (own thread)",
                Row::Axum => "axum + RwLock<HashMap>, app runtime",
            }
        }
    }

    /// A server of one row, running.
    enum Running {
        OnApp,
        Dedicated(ProbeServer),
    }

    pub(super) fn run(hold: Hold, window: Duration) -> io::Result<()> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        println!(
            "saturated: application runtime workers held by {hold:?} for {} s per row; \
             2 clients (connection per probe, keep-alive), each probing /livez and /readyz in \
             turn every {} ms with a {} ms timeout; {cores} cores; load average before: {}",
            window.as_secs(),
            EVERY.as_millis(),
            TIMEOUT.as_millis(),
            load_average(),
        );
        let mut results = Vec::new();
        for row in [Row::Shared, Row::Dedicated, Row::Axum] {
            results.push((row, measure(row, hold, window)?));
        }
        println!("load average after: {}", load_average());
        println!(
            "{:<38} {:<11} {:<7} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "server", "client", "path", "probes", "p50 ms", "p99 ms", "max ms", "timeouts"
        );
        for (row, clients) in &results {
            for (connect, paths) in clients {
                for (path, probed) in PATHS.iter().zip(paths) {
                    let client = match connect {
                        Connect::PerProbe => "per-probe",
                        Connect::KeepAlive => "keep-alive",
                    };
                    println!(
                        "{:<38} {:<11} {:<7} {:>7} {:>9} {:>9} {:>9} {:>9}",
                        row.name(),
                        client,
                        path,
                        probed.probes(),
                        millis(probed.percentile(500)),
                        millis(probed.percentile(990)),
                        millis(probed.percentile(1000)),
                        probed.timeouts + probed.errors,
                    );
                }
            }
        }
        Ok(())
    }

    /// A latency in ms, or `>1s` where the rank fell on a timed-out probe.
    fn millis(micros: Option<u32>) -> String {
        micros.map_or_else(
            || format!(">{}s", TIMEOUT.as_secs()),
            |micros| format!("{:.2}", f64::from(micros) / 1_000.0),
        )
    }

    pub(super) fn measure(
        row: Row,
        hold: Hold,
        window: Duration,
    ) -> io::Result<Vec<(Connect, Vec<Probed>)>> {
        // Tokio's defaults: one worker per core, as an application's `#[tokio::main]`.
        let app = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // The handles live as long as the server, as in a service that reports.
        let (registry, _checks) = healthy_registry();
        let running = match row {
            Row::Shared => {
                let server = health_http::serve(listener, HealthService::new(registry));
                app.spawn(std::future::IntoFuture::into_future(server));
                Running::OnApp
            }
            Row::Dedicated => Running::Dedicated(
                health_http::serve(listener, HealthService::new(registry))
                    .drain_delay(Duration::ZERO)
                    .spawn()?,
            ),
            Row::Axum => {
                listener.set_nonblocking(true)?;
                let listener = {
                    let _entered = app.enter();
                    tokio::net::TcpListener::from_std(listener)?
                };
                let checks = Arc::new(RwLockHashMap::new(CHECKS));
                app.spawn(peers::serve_axum_rwlock(listener, checks));
                Running::OnApp
            }
        };
        // Idle, every server answers: the timeouts below are the saturation's.
        let idle = prober(Connect::PerProbe).run(addr, Instant::now() + Duration::from_millis(100));
        if idle
            .iter()
            .any(|probed| probed.micros.is_empty() || probed.probes() != probed.micros.len())
        {
            return Err(io::Error::other(format!(
                "{}: not answering while idle",
                row.name()
            )));
        }

        let release = hold_every_worker(&app, hold);
        let until = Instant::now() + window;
        let clients: Vec<_> = [Connect::PerProbe, Connect::KeepAlive]
            .map(|connect| std::thread::spawn(move || (connect, prober(connect).run(addr, until))))
            .into_iter()
            .collect();
        let results = clients
            .into_iter()
            .map(|client| {
                client
                    .join()
                    .map_err(|_| io::Error::other("a client panicked"))
            })
            .collect::<io::Result<Vec<_>>>()?;
        // Ordering: a flag the holders poll; it guards no other memory.
        release.store(true, Ordering::Relaxed);
        match running {
            Running::OnApp => {}
            Running::Dedicated(probes) => probes.shutdown(),
        }
        app.shutdown_timeout(Duration::from_secs(5));
        Ok(results)
    }

    fn prober(connect: Connect) -> Prober {
        Prober {
            connect,
            paths: PATHS.map(str::to_owned).to_vec(),
            every: EVERY,
            timeout: TIMEOUT,
        }
    }

    /// Holds every worker of `app` until the returned flag is set; returns once every
    /// worker is held.
    fn hold_every_worker(app: &Runtime, hold: Hold) -> Arc<AtomicBool> {
        let workers = app.metrics().num_workers();
        let release = Arc::new(AtomicBool::new(false));
        // Each holder waits, holding its worker, until all do: no worker can take a second
        // holder while another stays free. The measuring thread is the last to arrive.
        let all_held = Arc::new(Barrier::new(workers + 1));
        for _ in 0..workers {
            let (all_held, release) = (Arc::clone(&all_held), Arc::clone(&release));
            app.spawn(async move {
                all_held.wait();
                // Ordering: see `measure`.
                while !release.load(Ordering::Relaxed) {
                    match hold {
                        Hold::Spin => std::hint::spin_loop(),
                        Hold::Sleep => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            });
        }
        all_held.wait();
        release
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::SocketAddr;
    use std::time::Duration;

    use health_benches::load::Load;
    use health_core::{Outcome, Probe, Status};
    use tokio::net::TcpListener;

    use super::{HUNG_NAME, HUNG_TIMEOUT, PEERS, Peer, hung_registry, measure};

    /// Every server answers `200` to the one path the client asks for: the floor to any path,
    /// the others on their `/readyz` route.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_peer_answers_readyz() {
        let load = Load {
            connections: 2,
            warmup: Duration::ZERO,
            window: Duration::from_millis(50),
        };
        for peer in PEERS {
            let report = measure(peer, &load).await.expect("answers 200");
            assert!(report.requests() > 0, "{}", peer.name());
        }
    }

    /// The floor with headers sends what health-http sends, byte for byte but the date, so
    /// that the rows between them isolate the service and the server loop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn floor_with_headers_answers_like_health_http() {
        let mut answers = Vec::new();
        for peer in [
            Peer::FloorHeaders,
            Peer::HealthServiceOnHyper,
            Peer::HealthHttp,
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
            let addr = listener.local_addr().expect("bound");
            let server = tokio::spawn(peer.serve(listener));
            let answer = tokio::task::spawn_blocking(move || raw_get(addr))
                .await
                .expect("does not panic");
            server.abort();
            answers.push((peer.name(), answer));
        }
        let (_, floor) = &answers[0];
        assert!(floor.starts_with("HTTP/1.1 200 OK\r\n"), "{floor}");
        for (name, answer) in &answers[1..] {
            assert_eq!(answer, floor, "{name}");
        }
    }

    /// `GET /readyz` over a fresh connection, returning the answer with its `date` header
    /// removed and the remaining headers sorted.
    fn raw_get(addr: SocketAddr) -> String {
        let mut stream = std::net::TcpStream::connect(addr).expect("connects");
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .expect("sends");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        let (head, body) = answer.split_once("\r\n\r\n").expect("has a head");
        let mut lines: Vec<_> = head.lines().collect();
        lines.retain(|line| !line.starts_with("date:"));
        lines[1..].sort_unstable();
        format!("{}\r\n\r\n{body}", lines.join("\r\n"))
    }

    /// The hung dependency really times out on the runner, and readiness still passes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_hung_dependency_times_out_while_readiness_passes() {
        let (registry, _checks, _runner) = hung_registry();
        tokio::time::sleep(HUNG_TIMEOUT * 3).await;
        let check = registry.check(HUNG_NAME).expect("registered");
        let snapshot = check.snapshot_at(registry.now());
        assert_eq!(snapshot.status(), Status::Unhealthy);
        assert_eq!(snapshot.reason(), Some("timed out after 50ms"));
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
    }

    /// While every application worker is held, the server on the application runtime
    /// answers nothing and the dedicated one answers. (How fast is the benchmark's claim,
    /// not this test's.)
    #[test]
    fn a_held_runtime_starves_the_shared_server_not_the_dedicated_one() {
        use super::saturated::{Hold, Row, measure};
        let window = std::time::Duration::from_millis(1_500);
        for (row, answers) in [(Row::Shared, false), (Row::Dedicated, true)] {
            let clients = measure(row, Hold::Sleep, window).expect("measured");
            for (_, paths) in clients {
                for probed in paths {
                    assert_eq!(!probed.micros.is_empty(), answers, "{row:?}: {probed:?}");
                    if !answers {
                        assert!(probed.timeouts > 0, "{row:?}: {probed:?}");
                    }
                }
            }
        }
    }
}
