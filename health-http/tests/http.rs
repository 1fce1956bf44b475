//! End to end over `127.0.0.1:0` with a raw client: HTTP/1.0, keep-alive, pipelining,
//! HEAD, the drain on shutdown, the connection bound and the header timeout; and
//! `HttpCheck` against real listeners.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{
    Server, blocking, connect, get, is_closed, read_response, recording, registry_with_db, start,
    zero_drain,
};
use health_core::{Check as _, Phase, Status};
use health_http::HttpCheck;
use http::{StatusCode, Uri};
use tokio::net::TcpListener;
use tokio::time::timeout;

/// Bounds a whole test that uses real time.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn stop(mut server: Server) {
    server.stop.take().unwrap().send(()).unwrap();
    timeout(TEST_TIMEOUT, server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn http_1_0_is_answered_and_closed() {
    let (registry, _db) = registry_with_db();
    let server = start(registry, zero_drain).await;
    let addr = server.addr;
    let (response, closed) = timeout(
        TEST_TIMEOUT,
        blocking(move || {
            let mut stream = connect(addr);
            stream.write_all(b"GET /livez HTTP/1.0\r\n\r\n").unwrap();
            (read_response(&mut stream, false), is_closed(&mut stream))
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        (response.version.as_str(), response.status),
        ("HTTP/1.0", 200)
    );
    assert_eq!(response.body, "ok");
    assert!(
        closed,
        "HTTP/1.0 without keep-alive closes after the answer"
    );
    stop(server).await;
}

#[tokio::test]
async fn keep_alive_serves_requests_in_turn_with_every_header() {
    let (registry, db) = registry_with_db();
    let server = start(registry, zero_drain).await;
    let addr = server.addr;
    let responses = timeout(
        TEST_TIMEOUT,
        blocking(move || {
            let mut stream = connect(addr);
            let mut responses = Vec::new();
            for path in ["/readyz", "/readyz?verbose", "/readyz/db"] {
                let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\n\r\n");
                stream.write_all(request.as_bytes()).unwrap();
                responses.push(read_response(&mut stream, false));
                if path == "/readyz" {
                    db.unhealthy("connection refused");
                }
            }
            responses
        }),
    )
    .await
    .unwrap();
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[1].status, 503);
    assert_eq!(
        responses[1].body,
        "[-]db failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"
    );
    assert_eq!(responses[2].body, "[-]db failed: reason withheld\n");
    for response in &responses {
        assert_eq!(response.version, "HTTP/1.1");
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            response.header("content-length"),
            Some(response.body.len().to_string().as_str())
        );
        assert!(response.header("date").is_some());
        assert_eq!(response.header("connection"), None, "kept alive");
    }
    stop(server).await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_head_has_no_body() {
    let (registry, _db) = registry_with_db();
    let server = start(registry, zero_drain).await;
    let addr = server.addr;
    let (responses, closed) = timeout(
        TEST_TIMEOUT,
        blocking(move || {
            let mut stream = connect(addr);
            // One write, four requests; the last closes the connection.
            stream
                .write_all(
                    b"GET /livez HTTP/1.1\r\nHost: p\r\n\r\n\
                      HEAD /readyz?verbose HTTP/1.1\r\nHost: p\r\n\r\n\
                      POST /readyz HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\nhello\
                      GET /startupz HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
            let responses =
                [false, true, false, false].map(|head| read_response(&mut stream, head));
            (responses, is_closed(&mut stream))
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        (responses[0].status, responses[0].body.as_str()),
        (200, "ok")
    );
    // HEAD: the verbose answer's length, and the next answer follows right after the head.
    let verbose_len = "[+]db ok\n[+]shutdown ok\nreadyz check passed\n".len();
    assert_eq!(responses[1].status, 200);
    assert_eq!(
        responses[1].header("content-length"),
        Some(verbose_len.to_string().as_str())
    );
    assert_eq!(responses[2].status, 405);
    assert_eq!(responses[2].header("allow"), Some("GET, HEAD"));
    assert_eq!(
        (responses[3].status, responses[3].body.as_str()),
        (200, "ok")
    );
    assert!(closed);
    stop(server).await;
}

#[tokio::test]
async fn health_json_is_served_on_request() {
    let (registry, _db) = registry_with_db();
    let server = start(registry, zero_drain).await;
    let addr = server.addr;
    let response = timeout(
        TEST_TIMEOUT,
        blocking(move || {
            common::request(
                addr,
                "GET /livez HTTP/1.1\r\nHost: p\r\nAccept: application/health+json\r\nConnection: close\r\n\r\n",
            )
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("application/health+json")
    );
    assert_eq!(response.body, r#"{"status":"pass","checks":{}}"#);
    stop(server).await;
}

/// Shutdown: readiness fails at once while everything still answers through the drain;
/// then the listener closes, the request in flight finishes, and the registry stops.
/// Paused time: the drain passes when the test sleeps, never while the client talks.
#[tokio::test(start_paused = true)]
async fn shutdown_fails_readiness_drains_then_stops_and_finishes_in_flight() {
    const DRAIN: Duration = Duration::from_secs(2); // below the 5 s header timeout
    let (registry, _db) = registry_with_db();
    let mut changes = registry.subscribe();
    let mut server = start(registry.clone(), |serve| serve.drain_delay(DRAIN)).await;
    let addr = server.addr;

    let (kept, before) = blocking(move || {
        let mut stream = connect(addr);
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: p\r\n\r\n")
            .unwrap();
        let response = read_response(&mut stream, false);
        (stream, response)
    })
    .await;
    assert_eq!(before.status, 200);

    server.stop.take().unwrap().send(()).unwrap();
    changes.changed().await; // the server has seen the signal
    assert_eq!(registry.phase(), Phase::Draining);

    let (kept, in_flight, during) = blocking(move || {
        let mut kept = kept;
        kept.write_all(b"GET /readyz HTTP/1.1\r\nHost: p\r\n\r\n")
            .unwrap();
        let old_connection = read_response(&mut kept, false);
        let new_ready = get(addr, "/readyz");
        let new_live = get(addr, "/livez");
        // A request in flight across the end of the drain: its head half sent.
        let mut in_flight = connect(addr);
        in_flight
            .write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\n")
            .unwrap();
        (kept, in_flight, [old_connection, new_ready, new_live])
    })
    .await;
    assert_eq!(during.map(|r| r.status), [503, 503, 200]);
    assert!(!server.task.is_finished());

    tokio::time::sleep(DRAIN + Duration::from_millis(1)).await;
    let (refused, idle_closed, last, closed) = blocking(move || {
        let (mut kept, mut in_flight) = (kept, in_flight);
        let refused = std::net::TcpStream::connect(addr).is_err();
        let idle_closed = is_closed(&mut kept);
        in_flight.write_all(b"\r\n").unwrap();
        let last = read_response(&mut in_flight, false);
        (refused, idle_closed, last, is_closed(&mut in_flight))
    })
    .await;
    assert!(refused, "the listener is closed after the drain");
    assert!(
        idle_closed,
        "an idle keep-alive connection is closed at once"
    );
    assert_eq!((last.status, last.body.as_str()), (200, "ok"));
    assert_eq!(last.header("connection"), Some("close"));
    assert!(closed);
    server.task.await.unwrap();
    assert_eq!(registry.phase(), Phase::Stopped);
}

/// A client that never finishes its request head is cut off after the header timeout,
/// and so is an idle keep-alive connection.
#[tokio::test(start_paused = true)]
async fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let (registry, _db) = registry_with_db();
    let server = start(registry, |serve| {
        serve.header_read_timeout(Duration::from_secs(3))
    })
    .await;
    let addr = server.addr;
    let (slow, idle) = blocking(move || {
        let mut slow = connect(addr);
        slow.write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\nX-Slow: ")
            .unwrap();
        let mut idle = connect(addr);
        idle.write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut idle, false).status, 200);
        (slow, idle)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let closed = blocking(move || {
        let (mut slow, mut idle) = (slow, idle);
        [is_closed(&mut slow), is_closed(&mut idle)]
    })
    .await;
    assert_eq!(closed, [true, true]);
    stop(server).await;
}

/// At the connection bound the oldest connection makes room: a probe is answered even
/// when every slot is held by a client that sends nothing or never finishes its head.
#[tokio::test(start_paused = true)]
async fn the_connection_bound_evicts_the_oldest_so_probes_get_through() {
    let (registry, _db) = registry_with_db();
    let server = start(registry, |serve| serve.max_connections(2)).await;
    let addr = server.addr;

    // Idle holders: evicted at once.
    let (silent, answered) = blocking(move || {
        let silent = [connect(addr), connect(addr)];
        (silent, get(addr, "/livez"))
    })
    .await;
    assert_eq!(answered.status, 200);
    let [mut oldest, _newer] = silent;
    assert!(blocking(move || is_closed(&mut oldest)).await);

    // Slow holders, mid-head: the oldest is cut off at once. The clock stays frozen while
    // the blocking client talks, so no timer can be what frees the slot.
    let (answered, oldest_closed) = blocking(move || {
        let mut slow = [connect(addr), connect(addr)];
        for stream in &mut slow {
            stream
                .write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\nX-Slow: ")
                .unwrap();
        }
        let answered = get(addr, "/readyz");
        (answered, is_closed(&mut slow[0]))
    })
    .await;
    assert_eq!((answered.status, answered.body.as_str()), (200, "ok"));
    assert!(oldest_closed);
    stop(server).await;
}

fn http_check(addr: std::net::SocketAddr, path: &str) -> HttpCheck {
    let uri: Uri = format!("http://{addr}{path}").parse().unwrap();
    HttpCheck::new(uri).timeout(TEST_TIMEOUT)
}

#[tokio::test]
async fn http_check_is_healthy_on_2xx_and_3xx_and_unhealthy_otherwise() {
    let (registry, db) = registry_with_db();
    let server = start(registry, zero_drain).await;
    let report = http_check(server.addr, "/readyz").check().await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(report.observed().unwrap().unit(), "ms");
    assert!(report.duration().is_some());

    db.unhealthy("down");
    let report = http_check(server.addr, "/readyz?verbose").check().await;
    assert_eq!(report.status(), Status::Unhealthy);
    let reason = format!(
        "GET http://{}/readyz?verbose: 503 Service Unavailable",
        server.addr
    );
    assert_eq!(report.reason(), Some(reason.as_str()));
    stop(server).await;

    let (redirect, _) = recording(StatusCode::FOUND).await;
    assert_eq!(
        http_check(redirect, "/").check().await.status(),
        Status::Healthy
    );
    let (error, _) = recording(StatusCode::NOT_FOUND).await;
    assert_eq!(
        http_check(error, "/").check().await.status(),
        Status::Unhealthy
    );
}

#[tokio::test]
async fn http_check_reports_refused_connections_and_unsupported_urls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = http_check(addr, "/").check().await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert!(
        report
            .reason()
            .unwrap()
            .starts_with(&format!("connect to {addr}: ")),
        "{report:?}"
    );

    let https = HttpCheck::new(Uri::from_static("https://127.0.0.1:1/"))
        .check()
        .await;
    assert_eq!(
        https.reason(),
        Some("unsupported URL https://127.0.0.1:1/ (only http:// is supported)")
    );
}

/// A server that accepts and never answers: the check's own timeout ends it. Paused
/// time: the second passes without waiting for it.
#[tokio::test(start_paused = true)]
async fn http_check_times_out_on_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, keep) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = accepted.send(stream); // held open by the test, never answered
    });
    let uri: Uri = format!("http://{addr}/readyz").parse().unwrap();
    let report = HttpCheck::new(uri).check().await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(report.reason(), Some("timed out after 1s"));
    assert_eq!(report.duration(), Some(Duration::from_secs(1)));
    drop(keep);
}
