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
    wait_while(&changed, || mode(&state) == Mode::Hang).await;
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await;
}

/// Waits until `hung` returns `false`, checking it again whenever `changed` is notified.
async fn wait_while(changed: &Notify, mut hung: impl FnMut() -> bool) {
    loop {
        // Created before the check, not after: `notify_waiters` wakes every `Notified`
        // that exists when it is called, polled or not, so a change landing between the
        // check and the `.await` still wakes this one. Created after, it would miss that
        // change and hang until the next one.
        let notified = changed.notified();
        if !hung() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::wait_while;

    /// The admin port switches the mode and notifies right after the hang loop checked
    /// it: the loop must still wake. Paused time: a missed wake-up fails at once.
    #[tokio::test(start_paused = true)]
    async fn a_change_right_after_the_check_is_not_missed() {
        let changed = Notify::new();
        let mut checks = 0;
        let hung = || {
            checks += 1;
            if checks == 1 {
                // Still hung as checked; the mode changes before the loop awaits.
                changed.notify_waiters();
                return true;
            }
            false
        };
        tokio::time::timeout(Duration::from_hours(1), wait_while(&changed, hung))
            .await
            .expect("woken by the change that landed after the check");
    }
}
