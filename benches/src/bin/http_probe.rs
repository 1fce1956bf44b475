//! Side-by-side HTTP readiness probes on loopback, one client, one run.
//!
//! ```text
//! cargo run --release -p health-benches --bin http_probe -- [--conns 32] [--secs 5] [--threads N]
//! ```
//!
//! Starts each server of [`PEERS`] on `127.0.0.1:0` in turn, loads it with the same
//! in-process client ([`Load`]) and prints requests/s, p50 and p99 next to the floor's (bare
//! hyper answering `ok` without reading any state).
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
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use health_benches::Contender;
use health_benches::load::{Load, Report};
use health_benches::peers;
use health_benches::rwlock_hashmap::RwLockHashMap;
use tokio::net::TcpListener;

const USAGE: &str = "usage: http_probe [--conns N (32)] [--secs S (5)] [--threads T (cores)]";

/// Requests before the window that are not recorded: connection set-up and warm caches.
const WARMUP: Duration = Duration::from_millis(500);

/// Checks in the servers that hold state, as in `probe_reads`' idle scenario.
const CHECKS: usize = 8;

/// The servers measured, in this order. The first is the floor the others are divided by.
///
/// health-http goes here: add a variant, its name, and a `serve` arm that passes its hyper
/// service to [`peers::serve_hyper`] (the floor's own accept loop), then a second variant with
/// a dependency that hangs.
const PEERS: [Peer; 3] = [Peer::Floor, Peer::AxumRwLock, Peer::ChecksOnRequest];

#[derive(Clone, Copy, Debug)]
enum Peer {
    Floor,
    AxumRwLock,
    ChecksOnRequest,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Floor => "bare hyper (floor)",
            Peer::AxumRwLock => "axum + RwLock<HashMap>",
            Peer::ChecksOnRequest => "checks on request (Go)",
        }
    }

    async fn serve(self, listener: TcpListener) -> io::Result<()> {
        match self {
            Peer::Floor => peers::serve_floor(listener).await,
            Peer::AxumRwLock => {
                let checks = Arc::new(RwLockHashMap::new(CHECKS));
                peers::serve_axum_rwlock(listener, checks).await
            }
            Peer::ChecksOnRequest => peers::serve_checks_on_request(listener).await,
        }
    }
}

#[derive(Debug)]
struct Args {
    conns: usize,
    secs: u64,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        conns: 32,
        secs: 5,
        threads: std::thread::available_parallelism().map_or(2, NonZeroUsize::get),
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(USAGE)?;
        let bad = |_| format!("{flag}: not a positive number: {value}\n{USAGE}");
        match flag.as_str() {
            "--conns" => args.conns = value.parse().map_err(bad)?,
            "--secs" => args.secs = value.parse().map_err(bad)?,
            "--threads" => args.threads = value.parse().map_err(bad)?,
            _ => return Err(USAGE.to_owned()),
        }
    }
    if args.conns == 0 || args.secs == 0 || args.threads == 0 {
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
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .map_err(Box::<dyn Error>::from)
        .and_then(|runtime| runtime.block_on(run(&args)).map_err(Box::from));
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
        "{} keep-alive connections, {} s per server after {} ms warm-up, \
         {} tokio workers shared by client and servers, 127.0.0.1",
        args.conns,
        args.secs,
        WARMUP.as_millis(),
        args.threads,
    );
    let mut rows = Vec::new();
    for peer in PEERS {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(peer.serve(listener));
        let report = load.run(addr, "/readyz").await;
        // Stops accepting; the connections ended with the client's.
        server.abort();
        let report = report.map_err(|e| io::Error::other(format!("{}: {e}", peer.name())))?;
        rows.push((peer.name(), report));
    }
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[(&str, Report)]) {
    let Some((_, floor)) = rows.first() else {
        return;
    };
    println!(
        "{:<24} {:>10} {:>8} {:>8} {:>13} {:>11}",
        "impl", "req/s", "p50 µs", "p99 µs", "req/s÷floor", "p99÷floor"
    );
    for (name, report) in rows {
        let p99 = report.percentile(990);
        println!(
            "{:<24} {:>10.0} {:>8} {:>8} {:>13.2} {:>11.2}",
            name,
            report.per_second(),
            report.percentile(500),
            p99,
            report.per_second() / floor.per_second(),
            f64::from(p99) / f64::from(floor.percentile(990)),
        );
    }
}
