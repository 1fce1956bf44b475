//! One port for HTTP/1.1 probes and h2c gRPC: how [`serve`](crate::serve) runs a
//! connection when it was given a [`GrpcHealth`] ([`Serve::grpc`](crate::Serve::grpc)).
//!
//! The first bytes decide. A connection that opens with the HTTP/2 preface (prior
//! knowledge, as gRPC clients and the kubelet's `grpc` probe send it) is served by
//! hyper's HTTP/2 server; anything else by the same HTTP/1 server and settings as a
//! port without gRPC. The bytes read to decide are replayed to whichever serves. Those
//! bytes must arrive within the header read timeout, so a silent connection is closed as
//! on an HTTP/1-only port.
//!
//! hyper-util's `auto::Builder` does the same sniffing, but it offers no timeout for it
//! and no `max_header_size` for HTTP/1: doing it here keeps both.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tonic::codegen::BoxFuture;

use super::GrpcHealth;
use crate::render::{TEXT, respond};
use crate::serve::{Accepted, drive};
use crate::service::HealthService;

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where gRPC health calls go; everything else is an HTTP probe path.
const GRPC_PATH: &str = "/grpc.health.v1.Health/";

/// Streams (calls) open at once on one HTTP/2 connection: plenty for a gRPC client's
/// watches and checks, and with the connection bound, a bound on all of them.
const MAX_STREAMS: u32 = 256;

/// How often an HTTP/2 connection is pinged, and how long the answer may take: a peer
/// that vanished without closing (its watches open) is noticed and dropped.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The HTTP/2 side of a one-port server; the HTTP/1 side is `serve`'s own builder.
#[derive(Clone)]
pub(crate) struct OnePort {
    grpc: GrpcHealth,
    http2: http2::Builder<TokioExecutor>,
    header_read_timeout: Duration,
}

impl OnePort {
    pub(crate) fn new(
        grpc: GrpcHealth,
        header_read_timeout: Duration,
        max_header_size: usize,
    ) -> OnePort {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(max_header_size).unwrap_or(u32::MAX))
            .max_concurrent_streams(MAX_STREAMS)
            .keep_alive_interval(KEEP_ALIVE)
            .keep_alive_timeout(KEEP_ALIVE);
        OnePort {
            grpc,
            http2,
            header_read_timeout,
        }
    }

    /// Serves one accepted connection until it ends or is closed; see [`drive`].
    pub(crate) async fn serve(
        self,
        stream: TcpStream,
        http: HealthService,
        http1: http1::Builder,
        mut accepted: Accepted,
    ) {
        let peer = accepted.peer;
        let sniffed = tokio::select! {
            // Evicted or shut down before it said anything: nothing to finish.
            _ = &mut accepted.closed => return,
            sniffed = timeout(self.header_read_timeout, sniff(stream)) => sniffed,
        };
        let (http2, io) = match sniffed {
            Ok(Ok(sniffed)) => sniffed,
            Ok(Err(err)) => {
                tracing::debug!(target: "health", %peer, error = %err, "connection error");
                return;
            }
            Err(_) => {
                tracing::debug!(target: "health", %peer, "no request within the header read timeout: closed");
                return;
            }
        };
        let service = Answer {
            http,
            grpc: self.grpc,
        };
        let io = TokioIo::new(io);
        if http2 {
            drive(self.http2.serve_connection(io, service), accepted).await;
        } else {
            drive(http1.serve_connection(io, service), accepted).await;
        }
    }
}

/// Reads until the bytes either differ from the HTTP/2 preface or complete it, and
/// returns whether they completed it, with a stream that replays them.
async fn sniff(mut stream: TcpStream) -> io::Result<(bool, Sniffed)> {
    let mut head = [0; PREFACE.len()];
    let mut filled = 0;
    let http2 = loop {
        let read = stream.read(&mut head[filled..]).await?;
        filled += read;
        if read == 0 || head[..filled] != PREFACE[..filled] {
            break false;
        }
        if filled == PREFACE.len() {
            break true;
        }
    };
    Ok((
        http2,
        Sniffed {
            head,
            start: 0,
            end: filled,
            stream,
        },
    ))
}

/// A connection whose first bytes were read to tell the protocol: they are read again
/// first.
pub(crate) struct Sniffed {
    head: [u8; PREFACE.len()],
    start: usize,
    end: usize,
    stream: TcpStream,
}

impl AsyncRead for Sniffed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            let n = buf.remaining().min(this.end - this.start);
            buf.put_slice(&this.head[this.start..this.start + n]);
            this.start += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The one-port service: gRPC health calls to [`GrpcHealth`], the rest to
/// [`HealthService`].
struct Answer {
    http: HealthService,
    grpc: GrpcHealth,
}

type Body = Either<Full<Bytes>, tonic::body::Body>;

impl hyper::service::Service<Request<Incoming>> for Answer {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: Request<Incoming>) -> Answering {
        if !request.uri().path().starts_with(GRPC_PATH) {
            return Answering::Http(self.http.call(request));
        }
        if request.version() != Version::HTTP_2 {
            // gRPC's status travels in trailers, which HTTP/1.1 answers here cannot carry.
            let body = "gRPC needs HTTP/2: connect with prior knowledge (h2c)\n";
            return Answering::Http(std::future::ready(Ok(respond(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                TEXT,
                body.into(),
                false,
            ))));
        }
        let mut grpc = self.grpc.clone();
        Answering::Grpc(tower_service::Service::call(&mut grpc, request))
    }
}

/// The future of [`Answer`]: the HTTP answer is ready at once, the gRPC one boxed.
enum Answering {
    Http(Ready<Result<Response<Full<Bytes>>, Infallible>>),
    Grpc(BoxFuture<Response<tonic::body::Body>, Infallible>),
}

impl Future for Answering {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.get_mut() {
            Answering::Http(answer) => ready!(Pin::new(answer).poll(cx))?.map(Either::Left),
            Answering::Grpc(answer) => ready!(answer.as_mut().poll(cx))?.map(Either::Right),
        };
        Poll::Ready(Ok(response))
    }
}
