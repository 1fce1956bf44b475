//! End-to-end fault scenarios against the real example service, over real sockets.
//!
//! The example's dependency check runs every 2 s with a 500 ms timeout and a success
//! threshold of 2; its worker heartbeat allows 5 s of silence. Each limit below is that
//! budget plus a second of slack for a loaded CI machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health_tests::{PROBE_TIMEOUT, Service, get, read_answer, within};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const INTERVAL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_secs(1);
const MAX_SILENCE: Duration = Duration::from_secs(5);
/// The worker beats every second, so the last beat before a stall is at most 1 s old:
/// liveness may fail no sooner than `MAX_SILENCE` − 1 s after the stall.
const EARLIEST_LIVENESS_FAILURE: Duration = Duration::from_secs(4);
/// Long enough for the first check run to finish after start.
const SETTLE: Duration = Duration::from_secs(10);

async fn ready(service: &Service) {
    within(SETTLE, "ready after start", || async {
        service.get("/readyz").await.status == 200
    })
    .await;
}

#[tokio::test]
async fn dependency_killed_fails_readiness_not_liveness_and_recovers() {
    let service = Service::start(&["--warmup", "0s"]).await;
    ready(&service).await;

    service.admin("/dependency/down").await;
    within(INTERVAL + TIMEOUT + SLACK, "readiness fails", || async {
        assert_eq!(
            service.get("/livez").await.status,
            200,
            "a dependency outage reached liveness"
        );
        service.get("/readyz").await.status == 503
    })
    .await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose.body.contains("[-]dependency failed: connect to"),
        "{}",
        verbose.body
    );

    service.admin("/dependency/up").await;
    // Two consecutive passes (success_threshold = 2) bring it back.
    within(
        2 * INTERVAL + TIMEOUT + SLACK,
        "readiness recovers",
        || async {
            assert_eq!(service.get("/livez").await.status, 200);
            service.get("/readyz").await.status == 200
        },
    )
    .await;
}

#[tokio::test]
async fn hung_dependency_times_out_and_probes_still_answer() {
    let service = Service::start(&["--warmup", "0s"]).await;
    ready(&service).await;

    service.admin("/dependency/hang").await;
    // Every probe below is bounded by PROBE_TIMEOUT inside `get`: a probe that waited on
    // the hung dependency would panic there.
    within(
        INTERVAL + TIMEOUT + SLACK,
        "the check times out",
        || async {
            let _ = service.get("/livez").await;
            service.get("/readyz").await.status == 503
        },
    )
    .await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose
            .body
            .contains("[-]dependency failed: timed out after"),
        "{}",
        verbose.body
    );
    for _ in 0..20 {
        assert_eq!(service.get("/livez").await.status, 200);
        assert_eq!(service.get("/readyz").await.status, 503);
    }
    service.admin("/dependency/up").await;
}

#[tokio::test]
async fn stalled_worker_fails_liveness_only() {
    let service = Service::start(&["--warmup", "0s"]).await;
    ready(&service).await;

    service.admin("/worker/stall").await;
    let took = within(MAX_SILENCE + 2 * SLACK, "liveness fails", || async {
        assert_eq!(
            service.get("/readyz").await.status,
            200,
            "a stalled worker reached readiness"
        );
        service.get("/livez").await.status == 503
    })
    .await;
    assert!(
        took >= EARLIEST_LIVENESS_FAILURE,
        "liveness failed before max_silence: {took:?}"
    );
    let verbose = service.get("/livez?verbose").await;
    assert!(
        verbose.body.contains("[-]worker failed: no heartbeat for"),
        "{}",
        verbose.body
    );

    service.admin("/worker/resume").await;
    within(Duration::from_secs(3), "liveness recovers", || async {
        service.get("/livez").await.status == 200
    })
    .await;
}

#[tokio::test]
async fn stopped_runner_fails_readiness_as_stale() {
    let service = Service::start(&["--warmup", "0s"]).await;
    ready(&service).await;

    service.admin("/runner/stop").await;
    // max_age defaults to interval + timeout + 1 s slack.
    within(
        INTERVAL + TIMEOUT + 2 * SLACK,
        "readiness fails as stale",
        || async { service.get("/readyz").await.status == 503 },
    )
    .await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose
            .body
            .contains("[-]dependency failed: stale: last result"),
        "{}",
        verbose.body
    );
    assert_eq!(service.get("/livez").await.status, 200);
}

#[tokio::test]
async fn sigterm_drains_then_exits_zero() {
    let drain = Duration::from_secs(2);
    let mut service = Service::start(&["--warmup", "0s", "--drain", "2s"]).await;
    ready(&service).await;
    // A client already connected, as a load balancer's keep-alive connection would be.
    let mut kept = TcpStream::connect(&service.addr).await.unwrap();

    service.terminate();
    within(
        Duration::from_millis(500),
        "readiness fails at once",
        || async { service.get("/readyz").await.status == 503 },
    )
    .await;
    assert_eq!(
        service.get("/livez").await.status,
        200,
        "liveness stays green while draining"
    );
    // The in-flight connection is still answered during the drain.
    kept.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(PROBE_TIMEOUT, read_answer(&mut kept))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);

    let code = service.exit_code(drain + Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "a graceful shutdown exits 0");
}

#[tokio::test]
async fn probe_storm_adds_no_dependency_connections() {
    // Our own dependency, counting every connection it accepts.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dependency = format!("tcp://{}", listener.local_addr().unwrap());
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepts);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let service = Service::start(&["--warmup", "0s", "--dependency", &dependency]).await;
    ready(&service).await;

    let before = accepts.load(Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let storm: Vec<_> = (0..16)
        .map(|_| {
            let addr = service.addr.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    assert_eq!(get(&addr, "/readyz").await.status, 200);
                }
            })
        })
        .collect();
    for client in storm {
        client.await.unwrap();
    }
    let elapsed = started.elapsed();
    let during = accepts.load(Ordering::SeqCst) - before;
    // The runner connects once per interval, whatever the probe rate: 1,600 probes may
    // add at most the scheduled runs of the window, never one per probe.
    let scheduled = usize::try_from(elapsed.as_millis() / INTERVAL.as_millis()).unwrap() + 1;
    assert!(
        during <= scheduled,
        "1600 probes in {elapsed:?} caused {during} dependency connections; the schedule allows {scheduled}"
    );
}

#[tokio::test]
async fn startup_gates_readiness_until_warm_up_finishes() {
    let service = Service::start(&["--warmup", "2s"]).await;
    assert_eq!(service.get("/startupz").await.status, 503);
    assert_eq!(service.get("/readyz").await.status, 503);
    assert_eq!(service.get("/livez").await.status, 200);
    within(SETTLE, "startup passes", || async {
        assert_eq!(
            service.get("/livez").await.status,
            200,
            "liveness must pass throughout"
        );
        let startup = service.get("/startupz").await.status;
        if startup == 503 {
            assert_eq!(
                service.get("/readyz").await.status,
                503,
                "ready before started"
            );
        }
        startup == 200
    })
    .await;
    ready(&service).await;
}

#[tokio::test]
async fn bad_flags_are_clear_errors_with_exit_code_2() {
    for (args, says) in [
        (&["--drain", "5x"][..], "the unit must be ms, s or m"),
        (&["--drain", "fast"][..], "expected an integer"),
        (
            &["--dependency", "ftp://db"][..],
            "expected tcp://HOST:PORT or http://",
        ),
        (
            &["--dependency", "tcp://nohost"][..],
            "expected tcp://HOST:PORT",
        ),
        (&["--bogus"][..], "unknown flag"),
        (&["--addr"][..], "needs a value"),
        (&["--addr", "not-an-address"][..], "expected HOST:PORT"),
        (
            &["--admin-addr", "127.0.0.1:99999"][..],
            "expected HOST:PORT",
        ),
    ] {
        let (code, stderr) = health_tests::run_example(args).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: {stderr:?} should say {says:?}"
        );
    }
    let (code, _) = health_tests::run_example(&["--help"]).await;
    assert_eq!(code, Some(0));
}
