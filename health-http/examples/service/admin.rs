//! The admin port: routes that break and repair things on purpose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::dependency::{EmbeddedDependency, Mode};

/// What the admin port can break.
pub(crate) struct Controls {
    pub(crate) dependency: Option<EmbeddedDependency>,
    pub(crate) stalled: Arc<AtomicBool>,
    /// The runner, until `/runner/stop` drops it.
    pub(crate) runner: std::sync::Mutex<Option<health_core::Runner>>,
    /// The `--postgres` pool, and the connections `/postgres/hold` took from it.
    pub(crate) postgres: Option<sqlx::PgPool>,
    pub(crate) held: crate::postgres::Held,
}

/// The longest `/runtime/block` accepts.
const MAX_BLOCK: Duration = Duration::from_mins(1);

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

/// The pause after a failed accept: errors such as "too many open files" clear only as
/// connections close, and retrying at once would spin a worker.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The admin port: one tiny request per connection, no keep-alive.
pub(crate) async fn serve_admin(listener: TcpListener, controls: Controls) {
    let controls = Arc::new(controls);
    let listener = &listener;
    accept_loop(
        || listener.accept(),
        |stream| {
            let controls = Arc::clone(&controls);
            tokio::spawn(async move {
                let _ = answer_admin(stream, &controls).await;
            });
        },
    )
    .await;
}

/// Accepts forever, handing each connection to `handle`, and backs off after an error.
async fn accept_loop<S, A, F>(mut accept: A, mut handle: impl FnMut(S))
where
    A: FnMut() -> F,
    F: Future<Output = std::io::Result<(S, SocketAddr)>>,
{
    loop {
        match accept().await {
            Ok((stream, _)) => handle(stream),
            Err(err) => {
                tracing::warn!(target: "admin", "accept failed: {err}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

async fn answer_admin(mut stream: TcpStream, controls: &Controls) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (status, body, block) = if path == "/runtime/block" {
        match block_duration(query) {
            Ok(block) => {
                let workers = tokio::runtime::Handle::current().metrics().num_workers();
                let body = format!(
                    "blocking all {workers} workers of the application runtime for {}s: \
                     probes still answer; liveness fails after 2s, then recovers\n",
                    block.as_secs()
                );
                (200, body, Some(block))
            }
            Err(message) => (400, message, None),
        }
    } else if path.starts_with("/postgres/") {
        let (status, body) =
            crate::postgres::admin(controls.postgres.as_ref(), &controls.held, path).await;
        (status, body, None)
    } else {
        let (status, body) = controls.apply(path);
        (status, body, None)
    };
    tracing::info!(target: "admin", "{path}: {}", body.trim_end());
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    // After the answer is sent: once the workers block, nothing on this runtime runs.
    if let Some(block) = block {
        block_every_worker(block);
    }
    Ok(())
}

/// Parses `secs=N` (default 5) for `/runtime/block`.
fn block_duration(query: &str) -> Result<Duration, String> {
    let secs = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("secs="))
        .unwrap_or("5");
    match secs.parse::<u64>().map(Duration::from_secs) {
        Ok(block) if !block.is_zero() && block <= MAX_BLOCK => Ok(block),
        _ => Err(format!(
            "secs={secs:?}: expected whole seconds from 1 to {}\n",
            MAX_BLOCK.as_secs()
        )),
    }
}

/// Blocks every worker of the current runtime for `duration`, as a blocking call in
/// async code (a synchronous driver, a `std::thread::sleep`, a contended mutex) does.
fn block_every_worker(duration: Duration) {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let until = std::time::Instant::now() + duration;
    // Each blocker first waits for all the others, holding its worker: so every worker
    // holds one, rather than one worker running two in turn while another stays free.
    let all_held = Arc::new(std::sync::Barrier::new(workers));
    for _ in 0..workers {
        let all_held = Arc::clone(&all_held);
        tokio::spawn(async move {
            all_held.wait();
            std::thread::sleep(until.saturating_duration_since(std::time::Instant::now()));
        });
    }
}

/// Reads a request head (up to 8 KiB) as text.
pub(crate) async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
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

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::time::Instant;

    use super::{ACCEPT_BACKOFF, accept_loop};

    /// Twenty failed accepts in a row (descriptors exhausted) take twenty back-offs of
    /// virtual time, instead of spinning through them in none.
    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        const ERRORS: u32 = 20;
        let started = Instant::now();
        let mut calls = 0;
        let mut errors_done_at = None;
        let accept = || {
            calls += 1;
            let result: Box<dyn Future<Output = std::io::Result<((), SocketAddr)>> + Unpin> =
                if calls <= ERRORS {
                    Box::new(ready(Err(std::io::Error::other("too many open files"))))
                } else {
                    errors_done_at.get_or_insert_with(Instant::now);
                    Box::new(Box::pin(pending()))
                };
            result
        };
        let _ = tokio::time::timeout(Duration::from_hours(1), accept_loop(accept, |()| {})).await;
        let took = errors_done_at.expect("every error was retried") - started;
        assert!(
            took >= ACCEPT_BACKOFF * ERRORS,
            "{ERRORS} failed accepts retried within {took:?}"
        );
    }
}
