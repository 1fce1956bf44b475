//! Malformed and hostile traffic against the one-port server (`serve` with gRPC): each
//! kind gets a clear HTTP status, a gRPC status or a closed connection, never a panic,
//! and afterwards the HTTP/1.1 probes and gRPC Check still answer.

mod common;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use health_http::grpc::GrpcHealth;
use health_http::grpc::pb::health_check_response::ServingStatus;
use http::{Method, Request};

use crate::common::grpc::{GrpcServer, Host, check, client, start, start_with, within};
use crate::common::{blocking, connect, get, is_closed, registry_with_db};

on_hosts!([Serve, Tonic] => bad_grpc_requests_get_clear_errors);

const CHECK: &str = "/grpc.health.v1.Health/Check";

/// A healthy registry, served with gRPC by `host`.
async fn server(host: Host, header_read_timeout: Duration) -> GrpcServer {
    let (registry, _db) = registry_with_db();
    let health = GrpcHealth::new(registry).unwrap();
    start_with(host, health, |serve| {
        serve.header_read_timeout(header_read_timeout)
    })
    .await
}

/// The HTTP/1.1 probe and the gRPC Check both still answer, on new connections.
async fn still_answers(addr: SocketAddr, host: Host) {
    if host != Host::Tonic {
        let live = blocking(move || get(addr, "/livez")).await;
        assert_eq!((live.status, live.body.as_str()), (200, "ok"));
    }
    let mut client = client(addr).await;
    assert_eq!(
        check(&mut client, "readiness").await,
        Ok(ServingStatus::Serving)
    );
}

/// A gRPC message: uncompressed flag, big-endian length, bytes.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// `HealthCheckRequest { service }`, protobuf-encoded by hand (field 1, length-delimited).
fn check_request(service: &str) -> Vec<u8> {
    let mut message = vec![0x0a, u8::try_from(service.len()).unwrap()];
    message.extend_from_slice(service.as_bytes());
    message
}

/// What an HTTP/2 request got back.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    /// From the headers (a trailers-only answer) or the trailers.
    grpc_status: Option<String>,
    body: Bytes,
}

/// Sends one request on a new HTTP/2 (prior knowledge) connection, made with the `h2`
/// crate so that anything can be sent.
async fn h2(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    within(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut send, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://probe{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (response, mut stream) = send.send_request(request.body(()).unwrap(), false).unwrap();
        // The server may answer (and end the stream) before reading the body: a refused
        // request does not need it.
        let _ = stream.send_data(body.into(), true);
        let response = response.await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut grpc_status = response
            .headers()
            .get("grpc-status")
            .map(|value| value.to_str().unwrap().to_owned());
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        if let Some(trailers) = body.trailers().await.unwrap() {
            grpc_status = trailers
                .get("grpc-status")
                .map(|value| value.to_str().unwrap().to_owned());
        }
        Answer {
            status,
            headers,
            grpc_status,
            body: bytes.into(),
        }
    })
    .await
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

/// One malformed gRPC call: its name, path, body, headers and the `grpc-status` due.
type Call<'a> = (&'a str, &'a str, Vec<u8>, &'a [(&'a str, &'a str)], &'a str);

/// Checks that an HTTP answer of the gRPC service has the headers of every other plain
/// answer of the server: text, its length, never cached, never sniffed.
fn assert_plain(answer: &Answer) {
    let headers = &answer.headers;
    assert_eq!(
        headers["content-type"], "text/plain; charset=utf-8",
        "{answer:?}"
    );
    assert_eq!(
        headers["content-length"],
        answer.body.len().to_string().as_str(),
        "{answer:?}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{answer:?}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{answer:?}");
}

/// Requests that reach the gRPC service but are not gRPC, or not well-formed gRPC.
#[allow(clippy::too_many_lines, reason = "one table of cases")]
async fn bad_grpc_requests_get_clear_errors(host: Host) {
    let server = server(host, Duration::from_secs(5)).await;
    let addr = server.addr;
    let post = Method::POST;
    let good = frame(&check_request("readiness"));

    // Not gRPC at all: HTTP answers, so no HTTP/2 client can read them as success.
    let answer = h2(addr, Method::GET, CHECK, &[GRPC], Vec::new()).await;
    assert_eq!(answer.status, 405, "{answer:?}");
    assert_eq!(answer.headers["allow"], "POST");
    assert_plain(&answer);
    for content_type in [
        "application/json",
        "text/plain",
        "application/grpc-web+proto",
        "application/grpcx",
    ] {
        let answer = h2(
            addr,
            post.clone(),
            CHECK,
            &[("content-type", content_type)],
            good.clone(),
        )
        .await;
        assert_eq!(answer.status, 415, "{content_type}: {answer:?}");
        assert_plain(&answer);
    }
    let answer = h2(addr, post.clone(), CHECK, &[], good.clone()).await;
    assert_eq!(answer.status, 415, "no content type: {answer:?}");

    // gRPC, but wrong: gRPC statuses (HTTP 200, `grpc-status` set), never OK.
    let unimplemented = "12";
    let internal = "13";
    // A well-formed message whose flag says it is compressed.
    let mut compressed = good.clone();
    compressed[0] = 1;
    let cases: [Call<'_>; 8] = [
        (
            "an unknown method",
            "/grpc.health.v1.Health/Nope",
            good.clone(),
            &[GRPC],
            unimplemented,
        ),
        ("no message", CHECK, Vec::new(), &[GRPC], internal),
        (
            "a truncated message",
            CHECK,
            frame(&check_request("readiness"))[..8].to_vec(),
            &[GRPC],
            internal,
        ),
        (
            "a truncated length prefix",
            CHECK,
            vec![0, 0, 0],
            &[GRPC],
            internal,
        ),
        (
            "bytes that are not protobuf",
            CHECK,
            frame(&[0xff; 9]),
            &[GRPC],
            internal,
        ),
        (
            "a name that is not UTF-8",
            CHECK,
            frame(&[0x0a, 2, 0xff, 0xfe]),
            &[GRPC],
            internal,
        ),
        (
            "a compressed flag without an encoding",
            CHECK,
            compressed.clone(),
            &[GRPC],
            internal,
        ),
        (
            "an encoding the server does not take",
            CHECK,
            compressed,
            &[GRPC, ("grpc-encoding", "gzip")],
            unimplemented,
        ),
    ];
    for (name, path, body, headers, code) in cases {
        let answer = h2(addr, post.clone(), path, headers, body).await;
        assert_eq!(
            (answer.status, answer.grpc_status.as_deref()),
            (200, Some(code)),
            "{name}: {answer:?}"
        );
    }
    // A message larger than a request can be (4 KiB): refused from its length prefix,
    // before the server reads it.
    let mut oversized = vec![0];
    oversized.extend_from_slice(&(64 * 1024 * 1024u32).to_be_bytes());
    oversized.extend_from_slice(&[0; 1024]);
    let answer = h2(addr, post.clone(), CHECK, &[GRPC], oversized).await;
    assert_eq!(
        (answer.status, answer.grpc_status.as_deref()),
        (200, Some("11")),
        "{answer:?}"
    );
    let answer = h2(
        addr,
        post.clone(),
        CHECK,
        &[GRPC],
        frame(&check_request(&"x".repeat(120))),
    )
    .await;
    assert_eq!(
        answer.grpc_status.as_deref(),
        Some("5"),
        "an unknown name is NOT_FOUND"
    );

    // The well-formed call, by hand: OK and SERVING (`08 01`).
    let answer = h2(addr, post, CHECK, &[GRPC, ("te", "trailers")], good).await;
    assert_eq!(
        (answer.status, answer.grpc_status.as_deref()),
        (200, Some("0"))
    );
    assert_eq!(answer.body, frame(&[0x08, 0x01]));

    still_answers(addr, host).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_requests_that_are_not_grpc_get_http_answers() {
    let server = server(Host::Serve, Duration::from_secs(5)).await;
    let addr = server.addr;
    // The probes over h2c are the probes.
    let answer = h2(addr, Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    let answer = h2(addr, Method::GET, "/nope", &[], Vec::new()).await;
    assert_eq!(answer.status, 404);
    let answer = h2(addr, Method::DELETE, "/livez", &[], Vec::new()).await;
    assert_eq!(answer.status, 405);
    // gRPC's path over HTTP/1.1: gRPC needs HTTP/2's trailers.
    let response = blocking(move || {
        common::request(
            addr,
            &format!(
                "POST {CHECK} HTTP/1.1\r\nHost: p\r\nContent-Type: application/grpc\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        )
    })
    .await;
    assert_eq!(response.status, 505, "{response:?}");
    assert!(response.body.contains("HTTP/2"), "{response:?}");
    still_answers(addr, Host::Serve).await;
    server.shut_down().await;
}

/// An HTTP/2 frame header plus payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Broken HTTP/2 at the frame level: the server ends the connection, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http2_frames_end_the_connection_only() {
    let header_read_timeout = Duration::from_millis(300);
    let server = server(Host::Serve, header_read_timeout).await;
    let addr = server.addr;
    let settings = h2_frame(4, 0, 0, &[]);
    let with_preface = |frames: &[Vec<u8>]| {
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&settings);
        for frame in frames {
            bytes.extend_from_slice(frame);
        }
        bytes
    };
    // (name, bytes, half-close after sending)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "garbage after the preface",
            {
                let mut bytes = PREFACE.to_vec();
                bytes.extend_from_slice(&[0xde; 64]);
                bytes
            },
            false,
        ),
        (
            "a frame larger than the maximum frame size",
            with_preface(&[h2_frame(0, 0, 1, &vec![0; 20_000])]),
            false,
        ),
        (
            "DATA on stream 0",
            with_preface(&[h2_frame(0, 1, 0, b"x")]),
            false,
        ),
        (
            "HEADERS with a broken header block",
            with_preface(&[h2_frame(1, 0x5, 1, &[0xff; 16])]),
            false,
        ),
        (
            "a truncated frame, then the end",
            {
                let mut bytes = with_preface(&[]);
                bytes.extend_from_slice(&h2_frame(1, 0x5, 1, &[0; 100])[..40]);
                bytes
            },
            true,
        ),
        (
            "SETTINGS with a bad length",
            with_preface(&[h2_frame(4, 0, 0, &[0; 5])]),
            false,
        ),
        (
            "a WINDOW_UPDATE of zero",
            with_preface(&[h2_frame(8, 0, 0, &[0; 4])]),
            false,
        ),
        (
            "half a preface, then silence",
            PREFACE[..12].to_vec(),
            false,
        ),
        ("nothing at all", Vec::new(), false),
    ];
    for (name, bytes, then_eof) in cases {
        let closed = blocking(move || {
            let mut stream = connect(addr);
            stream.write_all(&bytes).unwrap();
            if then_eof {
                stream.shutdown(std::net::Shutdown::Write).unwrap();
            }
            // Read what the server says (a GOAWAY) until it closes.
            is_closed(&mut stream)
        })
        .await;
        assert!(closed, "{name}: the connection was not closed");
    }
    still_answers(addr, Host::Serve).await;
    server.shut_down().await;
}

/// HPACK, literal without indexing and with a literal name (RFC 7541, 6.2.2).
fn hpack(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(0);
        block.push(u8::try_from(name.len()).unwrap());
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).unwrap());
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// A client that opens watches and never reads a byte: the server's writes to it stop
/// at its flow-control windows, and everyone else is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_up_nobody() {
    let (registry, db) = registry_with_db();
    let server = start(Host::Serve, GrpcHealth::new(registry).unwrap()).await;
    let addr = server.addr;
    let mut bytes = PREFACE.to_vec();
    bytes.extend_from_slice(&h2_frame(4, 0, 0, &[]));
    let headers = hpack(&[
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "probe"),
        (":path", "/grpc.health.v1.Health/Watch"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]);
    let watches = 100;
    for stream in (1..).step_by(2).take(watches) {
        bytes.extend_from_slice(&h2_frame(1, 0x4, stream, &headers));
        bytes.extend_from_slice(&h2_frame(0, 0x1, stream, &frame(&check_request("db"))));
    }
    let mut silent = blocking(move || {
        let mut stream = connect(addr);
        stream.write_all(&bytes).unwrap();
        stream
    })
    .await;
    let mut client = client(addr).await;
    let mut witness = crate::common::grpc::watch(&mut client, "db").await.unwrap();
    assert_eq!(
        crate::common::grpc::next(&mut witness).await,
        Some(ServingStatus::Serving)
    );
    crate::common::grpc::eventually(|| server.health.open_watches() == watches + 1).await;
    for _ in 0..500 {
        db.unhealthy("down");
        assert_eq!(
            crate::common::grpc::next(&mut witness).await,
            Some(ServingStatus::NotServing)
        );
        db.healthy();
        assert_eq!(
            crate::common::grpc::next(&mut witness).await,
            Some(ServingStatus::Serving)
        );
    }
    still_answers(addr, Host::Serve).await;
    // It did get the start of its answers: the server wrote until the windows closed.
    let mut first = [0; 9];
    blocking(move || {
        silent.read_exact(&mut first).unwrap();
        silent
    })
    .await;
    server.shut_down().await;
}
