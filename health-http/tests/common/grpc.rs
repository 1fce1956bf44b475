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

/// A running gRPC server and the means to shut it down.
pub struct GrpcServer {
    pub addr: SocketAddr,
    pub health: GrpcHealth,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GrpcServer {
    /// Stops the registry, which ends every watch, then signals a graceful shutdown and
    /// waits (within [`WITHIN`]) until the server has finished, every connection closed:
    /// the order a tonic application follows (`serve` does it itself).
    pub async fn shut_down(mut self) {
        self.health.registry().stop();
        let _ = self.stop.take().unwrap().send(());
        within(self.task).await.unwrap();
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
        stop: Some(stop),
        task,
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
pub async fn check(client: &mut HealthClient<Channel>, service: &str) -> Result<ServingStatus, Code> {
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

/// Waits (within [`WITHIN`]) until `condition` holds, yielding to the runtime between
/// looks: for state that changes on another task with nothing to await, such as a
/// dropped stream's slot coming back.
pub async fn eventually(mut condition: impl FnMut() -> bool) {
    within(async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
