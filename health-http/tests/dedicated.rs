//! The dedicated probe server (`Serve::spawn`): answers while the application's runtime
//! is blocked, shuts down from its handle (or by dropping it), and is the same server
//! as `serve` awaited.

mod common;

use std::future::IntoFuture as _;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use common::{blocking, connect, get, registry_with_db, request, spawn_dedicated, zero_drain};
use health_core::Phase;
use health_http::{HealthService, serve};

/// The test's own runtime has one thread, and the test blocks it: whatever is served on
/// it cannot answer, the dedicated server does.
#[tokio::test(flavor = "current_thread")]
async fn answers_while_the_application_runtime_is_blocked() {
    let (registry, _db) = registry_with_db();
    let probes = spawn_dedicated(HealthService::new(registry.clone()), zero_drain);
    let on_runtime = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let on_runtime_addr = on_runtime.local_addr().unwrap();
    let shared =
        tokio::spawn(serve(on_runtime, HealthService::new(registry.clone())).into_future());
    tokio::task::yield_now().await; // the shared server is accepting

    // From here to the end of the block, this task never yields: the runtime is blocked.
    for path in ["/livez", "/readyz", "/startupz", "/readyz?verbose"] {
        let answer = get(probes.local_addr(), path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    // The contrast, so the test can fail: the server on the blocked runtime accepts (the
    // kernel does) but cannot answer, however long the client waits.
    let mut stream = connect(on_runtime_addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\n\r\n")
        .unwrap();
    let read = stream.read(&mut [0; 64]);
    assert!(
        read.is_err(),
        "a server on a blocked runtime answered: {read:?}"
    );

    shared.abort();
    probes.shutdown();
}

#[test]
fn shutdown_fails_readiness_at_once_then_drains_and_stops() {
    let (registry, _db) = registry_with_db();
    // A drain long enough to probe during it; the handle is dropped at the end, which
    // shuts the server down on its own.
    let probes = spawn_dedicated(HealthService::new(registry.clone()), |serve| {
        serve.drain_delay(Duration::from_hours(1))
    });
    let addr = probes.local_addr();
    assert_eq!(get(addr, "/readyz").status, 200);

    probes.begin_shutdown();
    assert_eq!(
        registry.phase(),
        Phase::Draining,
        "at once, not when the thread runs"
    );
    assert_eq!(
        get(addr, "/readyz").status,
        503,
        "readiness fails while draining"
    );
    assert_eq!(get(addr, "/livez").status, 200, "liveness stays green");
    assert_eq!(get(addr, "/healthz").status, 200, "and so does /healthz");
    assert!(!probes.is_finished(), "still answering for the drain delay");
}

#[test]
fn shutdown_joins_once_drained_and_the_listener_is_closed() {
    let (registry, _db) = registry_with_db();
    let probes = spawn_dedicated(HealthService::new(registry.clone()), zero_drain);
    let addr = probes.local_addr();
    // A keep-alive connection, idle when the shutdown comes: it is closed, not waited for.
    let mut kept = connect(addr);
    kept.write_all(b"GET /livez HTTP/1.1\r\nHost: p\r\n\r\n")
        .unwrap();
    assert_eq!(common::read_response(&mut kept, false).status, 200);

    probes.shutdown();
    assert_eq!(registry.phase(), Phase::Stopped);
    assert!(common::is_closed(&mut kept), "idle connections are closed");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
}

#[test]
fn dropping_the_handle_shuts_the_server_down() {
    let (registry, _db) = registry_with_db();
    let probes = spawn_dedicated(HealthService::new(registry.clone()), zero_drain);
    let addr = probes.local_addr();
    drop(probes);
    assert!(
        registry.phase() >= Phase::Draining,
        "readiness fails once the handle is gone"
    );
    // The server stops on its own thread; nothing to join, so watch the registry.
    let mut changes = registry.subscribe();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(common::READ_TIMEOUT, async {
                while registry.phase() != Phase::Stopped {
                    changes.changed().await;
                }
            })
            .await
            .expect("the server stops on its own");
        });
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn the_graceful_shutdown_signal_stops_a_spawned_server_too() {
    let (registry, _db) = registry_with_db();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let probes = spawn_dedicated(HealthService::new(registry.clone()), |serve| {
        zero_drain(serve).with_graceful_shutdown(async {
            stopped.await.ok();
        })
    });
    stop.send(()).unwrap();
    probes.join(); // returns: the signal, not the handle, stopped it
    assert_eq!(registry.phase(), Phase::Stopped);
}

/// A tokio listener is moved off the runtime that bound it: that runtime can end.
#[test]
fn a_tokio_listener_outlives_the_runtime_that_bound_it() {
    let (registry, _db) = registry_with_db();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let probes = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        serve(listener, HealthService::new(registry.clone()))
            .drain_delay(Duration::ZERO)
            .spawn()
            .unwrap()
    });
    drop(runtime);
    assert_eq!(get(probes.local_addr(), "/readyz").status, 200);
    probes.shutdown();
}

/// The same hardening as `serve` awaited: it is the same loop.
#[test]
fn hardening_applies_the_header_size_limit() {
    let (registry, _db) = registry_with_db();
    let probes = spawn_dedicated(HealthService::new(registry), |serve| {
        zero_drain(serve).max_header_size(1024)
    });
    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: p\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2048)
    );
    assert_eq!(request(probes.local_addr(), &big).status, 431);
    assert_eq!(get(probes.local_addr(), "/livez").status, 200);
    probes.shutdown();
}

/// Spawning from inside the application's runtime works, and so does an error path
/// there (dropping a runtime inside an async context would panic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawns_and_stops_from_inside_an_application_runtime() {
    let (registry, _db) = registry_with_db();
    let probes = spawn_dedicated(HealthService::new(registry.clone()), zero_drain);
    let addr = probes.local_addr();
    assert_eq!(blocking(move || get(addr, "/livez").status).await, 200);
    blocking(move || probes.shutdown()).await;
    assert_eq!(registry.phase(), Phase::Stopped);
}
