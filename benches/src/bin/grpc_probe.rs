//! gRPC health side by side: unary Check against `tonic-health` with `h2load`, and Watch
//! fan-out to 10,000 watchers.
//!
//! ```text
//! apt-get install -y nghttp2-client        # h2load
//! cargo run --release -p health-benches --bin grpc_probe -- \
//!     [--secs 5] [--rounds 3] [--conns 16] [--streams 8] [--watchers 10000]
//! ```
//!
//! Every server runs in a child process of its own (this binary, `grpc_probe server
//! KIND`), on a current-thread tokio runtime: one core for the server, the other for the
//! client, so a server's cost is its own and its memory can be read from `/proc`.
//!
//! **Check.** `h2load` (nghttp2, C) sends `grpc.health.v1.Health/Check` for `readiness`
//! over h2c: `--conns` connections, `--streams` calls in flight on each, for `--secs`
//! after a 1 s warm-up. Every latency is logged (`--log-file`), so p50 and p99 are exact
//! (nearest rank, as `http_probe`'s).
//! The servers, in turn, `--rounds` times:
//! - `health-http (serve)`: `serve(..).grpc(GrpcHealth)`, health-http's one-port server,
//!   over a registry of 8 healthy readiness checks;
//! - `health-http in tonic`: the same `GrpcHealth` mounted in tonic's server;
//! - `tonic-health`: tonic-health 0.14's `health_reporter()` service in tonic's server,
//!   `readiness` set to SERVING.
//!
//! A call that is not answered SERVING (checked first with a tonic client) stops the run:
//! `h2load` counts HTTP statuses, and a gRPC error is HTTP 200.
//!
//! **Fan-out.** `--watchers` Watch calls on `readiness`, 200 per connection, from tonic
//! clients in this process; once each has its first message, the server's resident
//! memory is read again (the difference over the watchers is the memory per watcher),
//! then the status flips and the time until the last watcher has the new status is
//! measured, three times (`SERVING` → `NOT_SERVING` → `SERVING` → `NOT_SERVING`). Every
//! call stays open until the three flips are measured.

#![allow(
    clippy::cast_precision_loss,
    reason = "rates, byte counts and watcher counts far below 2^52"
)]

use std::error::Error;
use std::io::{BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use health_benches::load::{load_average, nearest_rank};
use health_core::{CheckHandle, CheckSpec, Registry};
use health_http::grpc::GrpcHealth;
use health_http::grpc::pb::HealthCheckRequest;
use health_http::grpc::pb::health_check_response::ServingStatus;
use health_http::grpc::pb::health_client::HealthClient;
use health_http::{HealthService, serve};
use tokio::io::AsyncBufReadExt as _;
use tokio::net::TcpListener;
use tokio::sync::Barrier;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const USAGE: &str = "usage: grpc_probe [--secs S (5)] [--rounds R (3)] [--conns C (16)] \
                     [--streams M (8)] [--watchers W (10000)]\n       grpc_probe server KIND";

/// The servers, in the order measured.
const KINDS: [Kind; 3] = [Kind::Serve, Kind::InTonic, Kind::TonicHealth];

/// Checks in the registry of the health-http servers.
const CHECKS: usize = 8;

/// Watch calls per connection in the fan-out (tonic's server and ours allow more).
const WATCHES_PER_CONNECTION: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Serve,
    InTonic,
    TonicHealth,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Serve => "serve",
            Kind::InTonic => "in-tonic",
            Kind::TonicHealth => "tonic-health",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Serve => "health-http (serve)",
            Kind::InTonic => "health-http in tonic",
            Kind::TonicHealth => "tonic-health",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        KINDS.into_iter().find(|kind| kind.name() == name)
    }
}

struct Options {
    secs: u64,
    rounds: usize,
    conns: usize,
    streams: usize,
    watchers: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        let Some(kind) = args.get(1).and_then(|name| Kind::parse(name)) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        return match run_server(kind) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("server: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        secs: 5,
        rounds: 3,
        conns: 16,
        streams: 8,
        watchers: 10_000,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number: usize = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))?;
        match flag.as_str() {
            "--secs" => options.secs = number as u64,
            "--rounds" => options.rounds = number.max(1),
            "--conns" => options.conns = number.max(1),
            "--streams" => options.streams = number.max(1),
            "--watchers" => options.watchers = number.max(1),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------
// The server process.

/// Serves `kind` on `127.0.0.1:0`, prints `port N`, and flips `readiness` for each
/// `flip` line on stdin, `rss` prints its resident memory; ends at the end of stdin.
fn run_server(kind: Kind) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mut builder = Registry::builder();
        let checks: Vec<CheckHandle> = (0..CHECKS)
            .map(|i| builder.push(CheckSpec::new(format!("dep{i}")).readiness()))
            .collect::<std::result::Result<_, _>>()?;
        let registry = builder.build();
        for check in &checks {
            check.healthy();
        }
        let health = GrpcHealth::builder(registry.clone())
            .max_watches(1_000_000)
            .build()?;
        let (reporter, tonic_health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("readiness", tonic_health::ServingStatus::Serving)
            .await;
        let server: tokio::task::JoinHandle<()> = match kind {
            Kind::Serve => {
                let serve = serve(listener, HealthService::new(registry.clone()))
                    .grpc(health)
                    .max_connections(100_000);
                tokio::spawn(std::future::IntoFuture::into_future(serve))
            }
            Kind::InTonic => tokio::spawn(async move {
                let _ = tonic::transport::Server::builder()
                    .add_service(health)
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                    .await;
            }),
            Kind::TonicHealth => tokio::spawn(async move {
                let _ = tonic::transport::Server::builder()
                    .add_service(tonic_health)
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                    .await;
            }),
        };
        println!("port {port}");
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut serving = true;
        while let Some(line) = lines.next_line().await? {
            match line.trim() {
                "flip" => {
                    serving = !serving;
                    if kind == Kind::TonicHealth {
                        let status = if serving {
                            tonic_health::ServingStatus::Serving
                        } else {
                            tonic_health::ServingStatus::NotServing
                        };
                        reporter.set_service_status("readiness", status).await;
                    } else if serving {
                        checks[0].healthy();
                    } else {
                        checks[0].unhealthy("flipped");
                    }
                }
                "rss" => println!("rss {}", rss_kib()?),
                _ => {}
            }
        }
        server.abort();
        Ok(())
    })
}

/// This process's resident memory, in KiB.
fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("a malformed VmRSS line")?
        .parse()?)
}

// ---------------------------------------------------------------------------------------
// The driver.

/// A server child process and its control pipe.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    fn start(kind: Kind) -> Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["server", kind.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let port: u16 = read_value(&mut stdout, "port")?.parse()?;
        Ok(Server {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    fn flip(&mut self) -> Result<()> {
        self.stdin.write_all(b"flip\n")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn rss_kib(&mut self) -> Result<u64> {
        self.stdin.write_all(b"rss\n")?;
        self.stdin.flush()?;
        Ok(read_value(&mut self.stdout, "rss")?.parse()?)
    }

    fn stop(mut self) -> Result<()> {
        drop(self.stdin);
        self.child.wait()?;
        Ok(())
    }
}

fn read_value(stdout: &mut impl std::io::BufRead, key: &str) -> Result<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            return Err(format!("the server ended before saying `{key}`").into());
        }
        if let Some(value) = line.trim().strip_prefix(key) {
            return Ok(value.trim().to_owned());
        }
    }
}

fn run(options: &Options) -> Result<()> {
    if Command::new("h2load").arg("--version").output().is_err() {
        return Err("h2load not found: apt-get install -y nghttp2-client".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("machine load average before: {}", load_average());
    let body = std::env::temp_dir().join(format!("grpc_probe-{}.bin", std::process::id()));
    std::fs::write(&body, frame(&check_request("readiness")))?;
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); KINDS.len()];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); KINDS.len()];
    for round in 0..options.rounds {
        for (index, kind) in KINDS.into_iter().enumerate() {
            let server = Server::start(kind)?;
            runtime.block_on(preflight(server.addr))?;
            let (rate, micros) = h2load(options, server.addr, &body)?;
            println!(
                "round {}: {:<22} {rate:>10.0} req/s  p99 {:>6} µs  (load {})",
                round + 1,
                kind.label(),
                percentile(&micros, 990),
                load_average()
            );
            rates[index].push(rate);
            latencies[index].extend(micros);
            server.stop()?;
        }
    }
    let _ = std::fs::remove_file(&body);
    println!(
        "\nCheck over h2c: {} connections × {} streams, {} s × {} rounds each (rates: mean of rounds; latencies pooled)\n",
        options.conns, options.streams, options.secs, options.rounds
    );
    println!("| impl | req/s | p50 µs | p99 µs | req/s ÷ tonic-health | p99 ÷ tonic-health |");
    println!("|---|---|---|---|---|---|");
    let peer = KINDS.len() - 1;
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
    for micros in &mut latencies {
        micros.sort_unstable();
    }
    for (index, kind) in KINDS.into_iter().enumerate() {
        let p99 = percentile(&latencies[index], 990);
        println!(
            "| {} | {:.0} | {} | {} | {:.2} | {:.2} |",
            kind.label(),
            mean(&rates[index]),
            percentile(&latencies[index], 500),
            p99,
            mean(&rates[index]) / mean(&rates[peer]),
            f64::from(p99) / f64::from(percentile(&latencies[peer], 990).max(1)),
        );
    }
    println!(
        "\nWatch fan-out: {} watchers, {WATCHES_PER_CONNECTION} per connection\n",
        options.watchers
    );
    println!(
        "| impl | memory per watcher | flip → last watcher (3 flips) | flip → median watcher |"
    );
    println!("|---|---|---|---|");
    for kind in [Kind::Serve, Kind::TonicHealth] {
        let (per_watcher, last, median) = runtime.block_on(fan_out(kind, options.watchers))?;
        let last: Vec<String> = last
            .iter()
            .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .collect();
        let median: Vec<String> = median
            .iter()
            .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .collect();
        println!(
            "| {} | {:.0} B | {} | {} |",
            kind.label(),
            per_watcher,
            last.join(", "),
            median.join(", ")
        );
    }
    println!("\nmachine load average after: {}", load_average());
    Ok(())
}

/// A gRPC message: uncompressed flag, big-endian length, bytes.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// `HealthCheckRequest { service }`, protobuf-encoded (field 1, length-delimited).
fn check_request(service: &str) -> Vec<u8> {
    let mut message = vec![0x0a, u8::try_from(service.len()).expect("a short name")];
    message.extend_from_slice(service.as_bytes());
    message
}

async fn client(addr: SocketAddr) -> Result<HealthClient<tonic::transport::Channel>> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
    Ok(HealthClient::new(endpoint.connect().await?))
}

/// Checks that the server answers `readiness` with SERVING.
async fn preflight(addr: SocketAddr) -> Result<()> {
    let mut client = client(addr).await?;
    let request = HealthCheckRequest {
        service: "readiness".into(),
    };
    let status = client.check(request).await?.into_inner().status();
    if status != ServingStatus::Serving {
        return Err(format!("{addr} answers {status:?}, not SERVING").into());
    }
    Ok(())
}

/// Runs h2load against `addr`: requests per second and every latency (µs), sorted.
fn h2load(options: &Options, addr: SocketAddr, body: &std::path::Path) -> Result<(f64, Vec<u32>)> {
    let log = std::env::temp_dir().join(format!("grpc_probe-{}.log", std::process::id()));
    let output = Command::new("h2load")
        .args(["-c", &options.conns.to_string()])
        .args(["-m", &options.streams.to_string()])
        .args(["-t", "1"])
        .args(["-D", &options.secs.to_string()])
        .args(["--warm-up-time", "1"])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("--data={}", body.display()))
        .arg(format!("--log-file={}", log.display()))
        .arg(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "h2load failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let rate: f64 = text
        .lines()
        .find_map(|line| {
            let after = line.strip_prefix("finished in ")?;
            after
                .split(", ")
                .nth(1)?
                .strip_suffix(" req/s")?
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no rate in h2load's output:\n{text}"))?;
    let requests = text
        .lines()
        .find(|line| line.starts_with("requests:"))
        .ok_or_else(|| format!("no request counts in h2load's output:\n{text}"))?;
    if !requests.contains(" 0 failed, 0 errored") {
        return Err(format!("h2load saw failures: {requests}").into());
    }
    let logged = std::fs::read_to_string(&log)?;
    let _ = std::fs::remove_file(&log);
    let mut micros = Vec::new();
    for line in logged.lines() {
        let mut fields = line.split('\t');
        let status = fields.nth(1);
        let elapsed = fields.next();
        if status != Some("200") {
            return Err(format!("an answer other than 200: {line}").into());
        }
        micros.push(elapsed.ok_or("a short log line")?.trim().parse()?);
    }
    micros.sort_unstable();
    Ok((rate, micros))
}

/// The latency of sorted `micros` at `per_mille` ([`nearest_rank`], as `http_probe`'s), or 0
/// without latencies.
fn percentile(micros: &[u32], per_mille: usize) -> u32 {
    nearest_rank(micros.len(), per_mille).map_or(0, |index| micros[index])
}

/// Opens `watchers` watches on `kind`, then flips three times: the memory per watcher
/// (bytes) and, per flip, the time until the last and the median watcher had it.
async fn fan_out(kind: Kind, watchers: usize) -> Result<(f64, Vec<Duration>, Vec<Duration>)> {
    let mut server = Server::start(kind)?;
    preflight(server.addr).await?;
    let before = server.rss_kib()?;
    let connections = watchers.div_ceil(WATCHES_PER_CONNECTION);
    let flips = 3;
    // Each watcher reports (its index in the flip, arrival) through a channel.
    let (arrived, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let opened = Arc::new(Barrier::new(watchers + 1));
    // Held until every flip is measured: a watcher that closed its call after its last
    // message would load both sides while the others still wait for theirs.
    let measured = Arc::new(Barrier::new(watchers + 1));
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))?
            .connect()
            .await?;
        let here = WATCHES_PER_CONNECTION.min(watchers - connection * WATCHES_PER_CONNECTION);
        for _ in 0..here {
            let mut client = HealthClient::new(channel.clone());
            let arrived = arrived.clone();
            let opened = Arc::clone(&opened);
            let measured = Arc::clone(&measured);
            tasks.push(tokio::spawn(async move {
                let request = HealthCheckRequest {
                    service: "readiness".into(),
                };
                let mut stream = client.watch(request).await?.into_inner();
                let first = stream.message().await?.ok_or("the watch ended")?;
                if first.status() != ServingStatus::Serving {
                    return Err::<(), Box<dyn Error + Send + Sync>>("not SERVING at first".into());
                }
                opened.wait().await;
                for flip in 0..flips {
                    let message = stream.message().await?.ok_or("the watch ended")?;
                    let _ = message;
                    let _ = arrived.send((flip, Instant::now()));
                }
                measured.wait().await;
                drop(stream);
                Ok(())
            }));
        }
    }
    drop(arrived);
    opened.wait().await;
    let after = server.rss_kib()?;
    let per_watcher = (after.saturating_sub(before) * 1024) as f64 / watchers as f64;
    let mut last = Vec::new();
    let mut median = Vec::new();
    for flip in 0..flips {
        let mut times = Vec::with_capacity(watchers);
        let started = Instant::now();
        server.flip()?;
        while times.len() < watchers {
            let (which, at) = arrivals.recv().await.ok_or("a watcher ended")?;
            if which != flip {
                return Err("a watcher got a message out of turn".into());
            }
            times.push(at.saturating_duration_since(started));
        }
        times.sort_unstable();
        let middle = nearest_rank(times.len(), 500).ok_or("no watchers")?;
        last.push(times[times.len() - 1]);
        median.push(times[middle]);
    }
    measured.wait().await;
    for task in tasks {
        task.await??;
    }
    server.stop()?;
    Ok((per_watcher, last, median))
}
