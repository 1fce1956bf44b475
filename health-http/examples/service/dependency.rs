//! The embedded dependency: a tiny HTTP server on loopback that the admin port can take
//! down, hang and bring back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::admin::read_head;

/// How the embedded dependency behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Up = 0,
    Down = 1,
    Hang = 2,
}

/// A stand-in for a real downstream service: answers `200 ok` over HTTP on loopback,
/// or refuses connections, or accepts and never answers.
pub(crate) struct EmbeddedDependency {
    pub(crate) addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changed: Arc<Notify>,
}

impl EmbeddedDependency {
    pub(crate) async fn start() -> std::io::Result<EmbeddedDependency> {
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

    pub(crate) fn set(&self, mode: Mode) {
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
