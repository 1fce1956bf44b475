//! The admin port: routes that break and repair things on purpose.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::dependency::{EmbeddedDependency, Mode};

/// What the admin port can break.
pub(crate) struct Controls {
    pub(crate) dependency: Option<EmbeddedDependency>,
    pub(crate) stalled: Arc<AtomicBool>,
    /// The runner, until `/runner/stop` drops it.
    pub(crate) runner: std::sync::Mutex<Option<health_core::Runner>>,
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
pub(crate) async fn serve_admin(listener: TcpListener, controls: Controls) {
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
