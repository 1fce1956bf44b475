//! The in-process load client: N keep-alive HTTP/1.1 connections, each sending its next request
//! as soon as the previous response is read, for a fixed time. And [`Prober`], a
//! kubelet-like client on blocking sockets, for the `saturated` scenario. And what both probe
//! binaries report with: [`nearest_rank`], the one rule for every percentile, and
//! [`load_average`].
//!
//! Every request's latency is kept (in microseconds, one `u32` each), so percentiles are exact:
//! at loopback rates a 5-second window holds a few hundred thousand samples, a few MB at most.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! use health_benches::{load::Load, peers};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(peers::serve_floor(listener));
//!
//! let load = Load { connections: 2, warmup: Duration::ZERO, window: Duration::from_millis(20) };
//! let report = load.run(addr, "/readyz").await?;
//! println!("{:.0} req/s, p99 {} µs", report.per_second(), report.percentile(990));
//! server.abort();
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::HOST;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How to load one server.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Keep-alive connections, each with one request in flight at a time.
    pub connections: usize,
    /// Time spent requesting before anything is recorded: connection set-up, allocator and
    /// cache warm-up.
    pub warmup: Duration,
    /// Time over which requests are recorded, after the warm-up.
    pub window: Duration,
}

impl Load {
    /// Loads the server at `addr` with `GET path` and reports the requests of the window.
    ///
    /// Runs its connections as tasks on the current tokio runtime, so the server under test
    /// and the client share its worker threads.
    ///
    /// # Errors
    ///
    /// Returns the first connection failure or the first answer that is not `200 OK`: a server
    /// that fails its probe is not measured.
    pub async fn run(&self, addr: SocketAddr, path: &str) -> io::Result<Report> {
        // Set-up happens inside the warm-up, so no barrier is needed to start the connections
        // together: whatever they do before `recording` is not counted.
        let recording = Instant::now() + self.warmup;
        let end = recording + self.window;
        let tasks: Vec<_> = (0..self.connections)
            .map(|_| tokio::spawn(connection(addr, path.to_owned(), recording, end)))
            .collect();
        let mut micros = Vec::new();
        for task in tasks {
            micros.extend(task.await.map_err(io::Error::other)??);
        }
        micros.sort_unstable();
        Ok(Report {
            micros,
            window: self.window,
        })
    }
}

/// Requests `path` over one keep-alive connection until `end`, returning the latency in µs of
/// each request sent at or after `recording` and answered by `end`.
///
/// Requests straddling either edge are dropped, at most one per connection at each edge; the
/// request rate is therefore a hair low, equally for every server.
async fn connection(
    addr: SocketAddr,
    path: String,
    recording: Instant,
    end: Instant,
) -> io::Result<Vec<u32>> {
    let stream = TcpStream::connect(addr).await?;
    // Each request is a single small write; without this, Nagle's algorithm could hold it back
    // behind an unacknowledged previous segment and measure the kernel instead of the server.
    stream.set_nodelay(true)?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // Drives the socket; ends once `sender` is dropped at the end of this function.
    tokio::spawn(connection);
    let host = addr.to_string();
    let mut micros = Vec::new();
    loop {
        // Waits until the previous exchange is fully done, outside the timed part: that is the
        // client's own bookkeeping.
        sender.ready().await.map_err(io::Error::other)?;
        let request = Request::get(path.as_str())
            .header(HOST, host.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(io::Error::other)?;
        let sent = Instant::now();
        if sent >= end {
            return Ok(micros);
        }
        let response = sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        let status = response.status();
        // The body is read to the end, as a kubelet does, and so that the connection is reused.
        response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?;
        let answered = Instant::now();
        if status != StatusCode::OK {
            return Err(io::Error::other(format!("{addr}{path} answered {status}")));
        }
        if sent >= recording && answered <= end {
            let latency = answered.duration_since(sent).as_micros();
            micros.push(u32::try_from(latency).unwrap_or(u32::MAX));
        }
    }
}

/// The requests recorded during one window, with their latencies.
#[derive(Debug)]
pub struct Report {
    /// Latencies in µs, sorted ascending.
    micros: Vec<u32>,
    window: Duration,
}

impl Report {
    /// Adds the requests of `other`, a window of its own, to this report: its rate becomes
    /// the total over both windows and its percentiles those of the pooled latencies.
    ///
    /// This is how repeated rounds of the same server are combined, so that a slow moment
    /// of the machine weighs on one round of every server instead of on one server.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use health_benches::{load::Load, peers};
    /// use tokio::net::TcpListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let server = tokio::spawn(peers::serve_floor(listener));
    ///
    /// let load = Load { connections: 1, warmup: Duration::ZERO, window: Duration::from_millis(10) };
    /// let mut report = load.run(addr, "/readyz").await?;
    /// let first = report.requests();
    /// report.merge(load.run(addr, "/readyz").await?);
    /// assert!(report.requests() >= first);
    /// server.abort();
    /// # Ok(())
    /// # }
    /// ```
    pub fn merge(&mut self, other: Report) {
        self.micros.extend(other.micros);
        self.micros.sort_unstable();
        self.window += other.window;
    }

    /// Returns the number of requests recorded.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.micros.len()
    }

    /// Returns the recorded requests per second of the window.
    #[must_use]
    pub fn per_second(&self) -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "request counts stay far below 2^52, where f64 would round"
        )]
        let requests = self.micros.len() as f64;
        requests / self.window.as_secs_f64()
    }

    /// Returns the latency in µs that `per_mille` thousandths of the requests did not exceed
    /// (by [`nearest_rank`]: 500 is the median, 990 the p99), or 0 without requests.
    ///
    /// # Panics
    ///
    /// If `per_mille` is not in `1..=1000`.
    #[must_use]
    pub fn percentile(&self, per_mille: usize) -> u32 {
        nearest_rank(self.micros.len(), per_mille).map_or(0, |index| self.micros[index])
    }
}

/// Returns the index, in `samples` values sorted ascending, of the value that `per_mille`
/// thousandths of them do not exceed, by the nearest-rank rule: the ⌈`samples` ×
/// `per_mille` / 1000⌉-th smallest. `None` without samples.
///
/// Every percentile the benches print is taken this way, so that `http_probe`'s and
/// `grpc_probe`'s figures compare. The rule picks a value that was measured (never an
/// interpolation between two), 500 is the median (the lower middle value for an even
/// count), 1000 the maximum, and a p99 over 100 samples is the 99th value, not the
/// slowest: one outlier in a hundred does not become the p99.
///
/// # Panics
///
/// If `per_mille` is not in `1..=1000`.
///
/// # Examples
///
/// ```
/// use health_benches::load::nearest_rank;
///
/// let sorted: Vec<u32> = (1..=100).collect();
/// let p99 = nearest_rank(sorted.len(), 990).map(|index| sorted[index]);
/// assert_eq!(p99, Some(99));
/// assert_eq!(nearest_rank(0, 990), None);
/// ```
#[must_use]
pub fn nearest_rank(samples: usize, per_mille: usize) -> Option<usize> {
    assert!(
        (1..=1000).contains(&per_mille),
        "per_mille {per_mille} is not in 1..=1000"
    );
    (samples * per_mille).div_ceil(1000).checked_sub(1)
}

/// Returns the machine's 1-, 5- and 15-minute load averages as `/proc/loadavg` gives them,
/// or `?` where it is not there.
///
/// The probe binaries print it before and after measuring: other processes on the machine
/// show in p99 first, and this says whether any were running.
///
/// # Examples
///
/// ```
/// let load = health_benches::load::load_average();
/// assert!(load == "?" || load.split(' ').count() == 3);
/// ```
#[must_use]
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// How a [`Prober`] connects: as the kubelet does (a new connection per probe), or over
/// one kept-alive connection, as a load balancer's health checker often does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connect {
    /// A new connection for every probe, closed after the answer.
    PerProbe,
    /// One connection for every probe; after a timeout it is dropped and a new one made.
    KeepAlive,
}

/// A kubelet-like prober: blocking sockets on the calling thread (no tokio runtime, so a
/// blocked runtime cannot delay the client), one probe at a time, each bounded by a
/// timeout as `timeoutSeconds` bounds the kubelet's.
#[derive(Clone, Debug)]
pub struct Prober {
    /// How each probe connects.
    pub connect: Connect,
    /// Asked in turn, one per probe.
    pub paths: Vec<String>,
    /// The time between the starts of two probes (a probe that takes longer delays the
    /// next).
    pub every: Duration,
    /// How long a probe may take, from connecting to the whole answer, before it counts
    /// as timed out (the kubelet's `timeoutSeconds`, 1 s by default).
    pub timeout: Duration,
}

/// What one path's probes saw: the latency of each answered probe and the timed-out ones.
#[derive(Clone, Debug, Default)]
pub struct Probed {
    /// Latencies in µs of the probes answered in time, sorted ascending.
    pub micros: Vec<u32>,
    /// Probes not answered within the timeout.
    pub timeouts: usize,
    /// Probes that failed otherwise (refused, reset, an answer that is not `200`).
    pub errors: usize,
}

impl Probed {
    /// Returns the number of probes sent.
    #[must_use]
    pub fn probes(&self) -> usize {
        self.micros.len() + self.timeouts + self.errors
    }

    /// Returns the latency in µs that `per_mille` thousandths of *all* probes did not
    /// exceed ([`nearest_rank`] over every probe sent), a timed-out or failed probe counting
    /// as slower than any answer: `None` when that rank falls on one (or nothing was sent).
    ///
    /// # Panics
    ///
    /// If `per_mille` is not in `1..=1000`.
    #[must_use]
    pub fn percentile(&self, per_mille: usize) -> Option<u32> {
        nearest_rank(self.probes(), per_mille).and_then(|index| self.micros.get(index).copied())
    }
}

impl Prober {
    /// Probes `addr` until `until`, returning one [`Probed`] per path (in `paths` order).
    ///
    /// Blocks the calling thread; run it on a thread of its own.
    #[must_use]
    pub fn run(&self, addr: SocketAddr, until: Instant) -> Vec<Probed> {
        let mut probed = vec![Probed::default(); self.paths.len()];
        let mut kept: Option<std::net::TcpStream> = None;
        let mut next = Instant::now();
        for (index, path) in self.paths.iter().enumerate().cycle() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if next > now {
                std::thread::sleep(next - now);
            }
            let started = Instant::now();
            next = started + self.every;
            let deadline = started + self.timeout;
            let result = match self.connect {
                Connect::PerProbe => probe_once(addr, path, deadline, &mut None, true),
                Connect::KeepAlive => probe_once(addr, path, deadline, &mut kept, false),
            };
            let record = &mut probed[index];
            match result {
                Ok(()) => {
                    let micros = started.elapsed().as_micros();
                    record
                        .micros
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
                Err(err) if is_timeout(&err) => {
                    record.timeouts += 1;
                    kept = None;
                }
                Err(_) => {
                    record.errors += 1;
                    kept = None;
                }
            }
        }
        for record in &mut probed {
            record.micros.sort_unstable();
        }
        probed
    }
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Sends one `GET path` and reads the whole answer by `deadline`, on `kept` if it holds a
/// connection (making one otherwise, and keeping it unless `close`).
fn probe_once(
    addr: SocketAddr,
    path: &str,
    deadline: Instant,
    kept: &mut Option<std::net::TcpStream>,
    close: bool,
) -> io::Result<()> {
    use std::io::{Read as _, Write as _};

    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
    };
    let mut stream = if let Some(stream) = kept.take() {
        stream
    } else {
        let stream = std::net::TcpStream::connect_timeout(&addr, remaining()?)?;
        stream.set_nodelay(true)?;
        stream
    };
    let connection = if close { "close" } else { "keep-alive" };
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: {connection}\r\n\r\n");
    stream.set_write_timeout(Some(remaining()?))?;
    stream.write_all(request.as_bytes())?;
    let mut buffer = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]);
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                if !head.starts_with("HTTP/1.1 200") {
                    return Err(io::Error::other(format!("{path}: {head}")));
                }
                if !close {
                    *kept = Some(stream);
                }
                return Ok(());
            }
        }
        stream.set_read_timeout(Some(remaining()?))?;
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Report, nearest_rank};

    #[test]
    fn nearest_rank_takes_the_ceiling_rank() {
        // ⌈n × p⌉-th smallest, zero-based.
        assert_eq!(nearest_rank(100, 990), Some(98));
        assert_eq!(nearest_rank(100, 1000), Some(99));
        assert_eq!(nearest_rank(100, 500), Some(49));
        assert_eq!(
            nearest_rank(4, 500),
            Some(1),
            "the lower middle of an even count"
        );
        assert_eq!(nearest_rank(5, 500), Some(2));
        assert_eq!(nearest_rank(10, 991), Some(9), "9.91 rounds up to the 10th");
        assert_eq!(nearest_rank(3, 333), Some(0));
        assert_eq!(nearest_rank(3, 334), Some(1));
        assert_eq!(nearest_rank(1, 1), Some(0));
        assert_eq!(nearest_rank(1, 1000), Some(0));
        assert_eq!(nearest_rank(0, 500), None);
    }

    #[test]
    #[should_panic(expected = "per_mille 0 is not in 1..=1000")]
    fn nearest_rank_refuses_zero() {
        let _ = nearest_rank(10, 0);
    }

    #[test]
    #[should_panic(expected = "per_mille 1001 is not in 1..=1000")]
    fn nearest_rank_refuses_more_than_all() {
        let _ = nearest_rank(10, 1001);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let report = Report {
            micros: (1..=100).collect(),
            window: Duration::from_secs(2),
        };
        assert_eq!(report.percentile(500), 50);
        assert_eq!(report.percentile(990), 99);
        assert_eq!(report.percentile(1000), 100);
        assert!((report.per_second() - 50.0).abs() < f64::EPSILON);
    }

    #[test]
    fn merged_reports_pool_requests_and_windows() {
        let mut report = Report {
            micros: vec![1, 3, 5],
            window: Duration::from_secs(1),
        };
        report.merge(Report {
            micros: vec![2, 4, 6],
            window: Duration::from_secs(2),
        });
        assert_eq!(report.micros, [1, 2, 3, 4, 5, 6]);
        assert!((report.per_second() - 2.0).abs() < f64::EPSILON);
        assert_eq!(report.percentile(500), 3);
    }

    #[test]
    fn probe_percentiles_rank_timeouts_last() {
        let probed = super::Probed {
            micros: (1..=98).collect(),
            timeouts: 1,
            errors: 1,
        };
        assert_eq!(probed.probes(), 100);
        assert_eq!(probed.percentile(500), Some(50));
        assert_eq!(probed.percentile(980), Some(98));
        assert_eq!(probed.percentile(990), None, "the 99th probe timed out");
        assert_eq!(super::Probed::default().percentile(990), None);
    }

    #[test]
    fn empty_report_is_zero() {
        let report = Report {
            micros: Vec::new(),
            window: Duration::from_secs(1),
        };
        assert_eq!(report.percentile(990), 0);
        assert!(report.per_second().abs() < f64::EPSILON);
    }
}
