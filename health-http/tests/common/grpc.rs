//! gRPC test helpers: a tonic server (or `serve`) for a `GrpcHealth`, a tonic client, and
//! real-time bounds so a broken server fails a test instead of hanging it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use health_http::grpc::GrpcHealth;
use health_http::grpc::pb::health_check_response::ServingStatus;
use health_http::grpc::pb::health_client::HealthClient;
use health_http::grpc::pb::{HealthCheckRequest, HealthCheckResponse};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::codec::Streaming;
use tonic::transport::Channel;

/// The bound on anything a test waits for, in real time.
pub const WITHIN: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`WITHIN`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WITHIN, future)
        .await
        .expect("no answer within the test's bound")
}

/// Which server serves the gRPC service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// tonic's own server, the service mounted with `add_service`.
    Tonic,
    /// health-http's `serve`, on the test's runtime: HTTP/1.1 probes and h2c gRPC.
    Serve,
    /// `serve(..).spawn()`: the same on a thread and runtime of its own.
    Spawned,
}

/// A running gRPC server and the means to shut it down.
pub struct GrpcServer {
    pub addr: SocketAddr,
    pub health: GrpcHealth,
    host: Host,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    probes: Option<health_http::ProbeServer>,
}

impl GrpcServer {
    /// Shuts the server down gracefully and waits (within [`WITHIN`]) until it has
    /// finished, every connection closed. Under tonic, the registry is stopped first,
    /// which ends every watch: the order a tonic application follows (`serve` does it
    /// itself).
    pub async fn shut_down(mut self) {
        if self.host == Host::Tonic {
            self.health.registry().stop();
        }
        if let Some(probes) = self.probes.take() {
            within(tokio::task::spawn_blocking(move || probes.shutdown()))
                .await
                .unwrap();
            return;
        }
        let _ = self.stop.take().unwrap().send(());
        within(self.task.take().unwrap()).await.unwrap();
    }
}

/// Serves `health` on a fresh loopback port with `host`; `serve` also serves the HTTP
/// probes of the same registry, with no drain delay.
pub async fn start(host: Host, health: GrpcHealth) -> GrpcServer {
    start_with(host, health, |serve| serve).await
}

/// As [`start`], with `configure` applied to `serve`'s settings (ignored under tonic).
pub async fn start_with(
    host: Host,
    health: GrpcHealth,
    configure: impl FnOnce(health_http::Serve) -> health_http::Serve,
) -> GrpcServer {
    if host == Host::Tonic {
        return start_tonic(health).await;
    }
    let registry = health.registry().clone();
    let grpc = health.clone();
    let configure = move |serve: health_http::Serve| configure(super::zero_drain(serve)).grpc(grpc);
    let (addr, stop, task, probes) = if host == Host::Serve {
        let server = super::start(registry, configure).await;
        (server.addr, server.stop, Some(server.task), None)
    } else {
        let probes = super::spawn_dedicated(health_http::HealthService::new(registry), configure);
        (probes.local_addr(), None, None, Some(probes))
    };
    GrpcServer {
        addr,
        health,
        host,
        stop,
        task,
        probes,
    }
}

/// Serves `health` with tonic's own server on a fresh loopback port.
pub async fn start_tonic(health: GrpcHealth) -> GrpcServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(health.clone())
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async {
                stopped.await.ok();
            },
        );
    let task = tokio::spawn(async move { server.await.unwrap() });
    GrpcServer {
        addr,
        health,
        host: Host::Tonic,
        stop: Some(stop),
        task: Some(task),
        probes: None,
    }
}

/// A tonic client on a new connection to `addr`.
pub async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    HealthClient::new(within(endpoint.connect()).await.unwrap())
}

pub fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

/// Calls Check: the status, or the gRPC code it failed with.
pub async fn check(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<ServingStatus, Code> {
    within(client.check(request(service)))
        .await
        .map(|response| response.into_inner().status())
        .map_err(|status| status.code())
}

/// Opens a Watch.
pub async fn watch(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<Streaming<HealthCheckResponse>, Code> {
    within(client.watch(request(service)))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| status.code())
}

/// The next message of a watch, or `None` once it ended cleanly.
pub async fn next(stream: &mut Streaming<HealthCheckResponse>) -> Option<ServingStatus> {
    within(stream.message())
        .await
        .expect("the watch ended with an error")
        .map(|response| response.status())
}

/// Generates, for each `async fn name(host: Host)`, one test per listed [`Host`]:
/// `on_hosts!([Serve, Spawned] => name)` makes `name::serve` and `name::spawned`.
#[macro_export]
macro_rules! on_hosts {
    ($hosts:tt => $($name:ident),* $(,)?) => {$(
        mod $name {
            $crate::on_hosts!(@tests $name $hosts);
        }
    )*};
    (@tests $name:ident [$($host:ident),+ $(,)?]) => {$(
        $crate::on_hosts!(@test $name $host);
    )+};
    // One arm per host: `macro_rules!` cannot make the test's lower-case name itself.
    (@test $name:ident Tonic) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn tonic() {
            super::$name($crate::common::grpc::Host::Tonic).await;
        }
    };
    (@test $name:ident Serve) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn serve() {
            super::$name($crate::common::grpc::Host::Serve).await;
        }
    };
    (@test $name:ident Spawned) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn spawned() {
            super::$name($crate::common::grpc::Host::Spawned).await;
        }
    };
}

/// [`on_hosts!`] on every [`Host`]: `name::tonic`, `name::serve` and `name::spawned`.
#[macro_export]
macro_rules! on_every_host {
    ($($name:ident),* $(,)?) => {
        $crate::on_hosts!([Tonic, Serve, Spawned] => $($name),*);
    };
}

/// Waits (within [`WITHIN`]) until `condition` holds, looking again every millisecond:
/// for state that changes on the server's tasks with nothing a client can await, such
/// as the open-watch count when the server has processed a reset (or a new) stream.
///
/// Polling, not a sleep standing in for a signal: the test goes on as soon as the
/// condition holds and fails if it never does; the sleep only paces the looks (a
/// `yield_now` loop would spin a core the server needs). A real signal would be a
/// change notification on `GrpcHealth`'s open-watch count, paid by every watch's open
/// and close in production for tests alone: operators read the count as a gauge when
/// they scrape (`open_watches`), and nothing in the server waits on it.
pub async fn eventually(mut condition: impl FnMut() -> bool) {
    within(async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
