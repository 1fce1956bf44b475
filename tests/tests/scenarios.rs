//! End-to-end fault scenarios against the real example service, over real sockets.
//!
//! The example's dependency check runs every 2 s with a 500 ms timeout and a success
//! threshold of 2; its worker heartbeat allows 5 s of silence, its runtime stall check
//! 2 s without a tick. Each limit below is that budget plus a second of slack for a
//! loaded CI machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use health_tests::{
    DETAILS_TOKEN, INTERVAL, PROBE_TIMEOUT, SETTLE, SLACK, Service, TIMEOUT, WORKER_MAX_SILENCE,
    get, get_with, read_answer, readiness_becomes, storm, times_out_while_probes_answer, within,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The worker beats every second, so the last beat before a stall is at most 1 s old:
/// liveness may fail no sooner than `WORKER_MAX_SILENCE` − 1 s after the stall.
const EARLIEST_LIVENESS_FAILURE: Duration = Duration::from_secs(4);
/// The example's `RuntimeStall`: liveness fails after this long without a tick.
const STALL_MAX_SILENCE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn dependency_killed_fails_readiness_not_liveness_and_recovers() {
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;

    service.admin("/dependency/down").await;
    readiness_becomes(&service, 503, INTERVAL + TIMEOUT + SLACK).await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose.body.contains("[-]dependency.0 failed: connect to"),
        "{}",
        verbose.body
    );

    service.admin("/dependency/up").await;
    // Two consecutive passes (success_threshold = 2) bring it back.
    readiness_becomes(&service, 200, 2 * INTERVAL + TIMEOUT + SLACK).await;
}

#[tokio::test]
async fn hung_dependency_times_out_and_probes_still_answer() {
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;

    service.admin("/dependency/hang").await;
    times_out_while_probes_answer(&service, "dependency.0", INTERVAL + TIMEOUT + SLACK).await;
    service.admin("/dependency/up").await;
}

#[tokio::test]
async fn stalled_worker_fails_liveness_only() {
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;

    service.admin("/worker/stall").await;
    let took = within(WORKER_MAX_SILENCE + 2 * SLACK, "liveness fails", || async {
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
    service.ready().await;

    service.admin("/runner/stop").await;
    // max_age defaults to interval + timeout + 1 s slack.
    readiness_becomes(&service, 503, INTERVAL + TIMEOUT + 2 * SLACK).await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose
            .body
            .contains("[-]dependency.0 failed: stale: last result"),
        "{}",
        verbose.body
    );
    assert_eq!(service.get("/livez").await.status, 200);
}

#[tokio::test]
async fn sigterm_drains_then_exits_zero() {
    let drain = Duration::from_secs(2);
    let mut service = Service::start(&["--warmup", "0s", "--drain", "2s"]).await;
    service.ready().await;
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
    service.ready().await;

    let before = accepts.load(Ordering::SeqCst);
    let elapsed = storm(&service.addr, "/readyz", 16, 100, 200).await;
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
async fn every_dependency_is_its_own_check() {
    // One dependency that accepts, one whose port refuses (bound, then closed).
    let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = format!("tcp://{}", live.local_addr().unwrap());
    tokio::spawn(async move { while live.accept().await.is_ok() {} });
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = format!("tcp://{}", dead.local_addr().unwrap());
    drop(dead);
    let service = Service::start(&[
        "--warmup",
        "0s",
        "--dependency",
        &live_addr,
        "--dependency",
        &dead_addr,
    ])
    .await;

    within(SETTLE, "both dependencies checked", || async {
        let verbose = service.get("/readyz?verbose").await.body;
        verbose.contains("[-]dependency.1 failed: connect to")
            && verbose.contains("[+]dependency.0 ok")
    })
    .await;
    assert_eq!(service.get("/readyz").await.status, 503);
    assert_eq!(service.get("/readyz/dependency.0").await.status, 200);
    assert_eq!(service.get("/readyz/dependency.1").await.status, 503);
    let excluded = service.get("/readyz?verbose&exclude=dependency.1").await;
    assert_eq!(excluded.status, 200, "{}", excluded.body);
    assert!(
        excluded.body.contains("[+]dependency.1 excluded: ok"),
        "{}",
        excluded.body
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
        // Readiness first: the warm-up may finish between the two reads, so only "ready,
        // then (latched) started" is an order every run must see.
        let ready = service.get("/readyz").await.status;
        let startup = service.get("/startupz").await.status;
        if ready == 200 {
            assert_eq!(startup, 200, "ready before started");
        }
        startup == 200
    })
    .await;
    service.ready().await;
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
        (&["--details-token", ""][..], "needs a non-empty token"),
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

/// Every worker of the example's (multi-thread) application runtime blocks for 4 s. The
/// probes, on their own thread, answer throughout within the kubelet's timeout;
/// liveness turns 503 with the stall named within `max_silence` + 1 s of the block, and
/// passes again once the block ends.
#[tokio::test]
async fn blocked_runtime_fails_liveness_with_the_stall_while_probes_keep_answering() {
    const BLOCK: Duration = Duration::from_secs(4);
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;

    service.admin("/runtime/block?secs=4").await;
    let blocked = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut stalled = None;
    // Every `get` below panics if its answer takes longer than PROBE_TIMEOUT.
    let failed_after = within(
        STALL_MAX_SILENCE + SLACK,
        "liveness fails as stalled",
        async || {
            let asked = Instant::now();
            let live = service.get("/livez").await;
            slowest = slowest.max(asked.elapsed());
            let asked = Instant::now();
            let _ = service.get("/readyz").await;
            slowest = slowest.max(asked.elapsed());
            if live.status == 503 {
                // Read at once, while the block lasts.
                let verbose = service.get("/livez?verbose").await;
                let json = service.get_json("/livez").await;
                let readiness = service.get("/readyz?verbose").await;
                stalled = Some((verbose, json, readiness));
            }
            live.status == 503
        },
    )
    .await;
    // The last tick ran at most one tick (100 ms) before the block: not much sooner.
    assert!(
        failed_after + Duration::from_millis(500) >= STALL_MAX_SILENCE,
        "liveness failed {failed_after:?} into the block, before max_silence"
    );
    let (verbose, json, readiness) = stalled.expect("read while stalled");
    assert!(
        verbose
            .body
            .contains("[-]runtime failed: runtime stalled: no tick for"),
        "{}",
        verbose.body
    );
    assert!(
        json.body
            .contains(r#""runtime":[{"componentType":"component","status":"fail""#)
            && json
                .body
                .contains(r#""output":"runtime stalled: no tick for"#),
        "{}",
        json.body
    );
    // The lag check is non-critical in the example: a warning, with its reason.
    assert!(
        readiness
            .body
            .contains("[+]runtime_lag warn: runtime lagging: tick overdue by"),
        "{}",
        readiness.body
    );

    let recovered = within(
        (BLOCK + SLACK).saturating_sub(blocked.elapsed()),
        "liveness recovers once the block ends",
        || async { service.get("/livez").await.status == 200 },
    )
    .await;
    let back_after = blocked.elapsed();
    assert!(
        back_after + Duration::from_millis(100) >= BLOCK,
        "liveness passed again before the block ended: {back_after:?} ({recovered:?} of polling)"
    );
    println!(
        "runtime blocked {BLOCK:?}: liveness 503 after {failed_after:?}, 200 again after \
         {back_after:?}; slowest probe while blocked {slowest:?}"
    );
    service.ready().await;
}

/// Failure reasons are shown for the token, not for an address: every test client is
/// on loopback, as every peer is behind a mesh sidecar, and gets none without it.
#[tokio::test]
async fn reasons_need_the_token_not_a_loopback_address() {
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;
    service.admin("/dependency/down").await;
    readiness_becomes(&service, 503, INTERVAL + TIMEOUT + SLACK).await;
    let anonymous = get(&service.addr, "/readyz?verbose").await;
    assert!(
        anonymous
            .body
            .contains("[-]dependency.0 failed: reason withheld"),
        "{}",
        anonymous.body
    );
    let wrong = get_with(
        &service.addr,
        "/readyz?verbose",
        &[("X-Health-Token", &DETAILS_TOKEN[1..])],
    )
    .await;
    assert!(wrong.body.contains("reason withheld"), "{}", wrong.body);
    let with_token = service.get("/readyz?verbose").await;
    assert!(
        with_token
            .body
            .contains("[-]dependency.0 failed: connect to"),
        "{}",
        with_token.body
    );
}

/// The example's probe port answers gRPC health over h2c beside the HTTP probes, from the
/// same registry: a kubelet `grpc` probe and an `httpGet` probe can share the port.
#[tokio::test]
async fn grpc_health_on_the_probe_port() {
    use health_http::grpc::pb::HealthCheckRequest;
    use health_http::grpc::pb::health_check_response::ServingStatus;
    use health_http::grpc::pb::health_client::HealthClient;

    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", service.addr))
        .unwrap()
        .timeout(PROBE_TIMEOUT);
    let mut client = HealthClient::new(endpoint.connect().await.unwrap());
    let status = async |client: &mut HealthClient<_>, name: &str| {
        let request = HealthCheckRequest {
            service: name.to_owned(),
        };
        client
            .check(request)
            .await
            .map(|answer| answer.into_inner().status())
    };
    for name in [
        "",
        "liveness",
        "readiness",
        "startup",
        "dependency.0",
        "worker",
    ] {
        assert_eq!(
            status(&mut client, name).await.unwrap(),
            ServingStatus::Serving,
            "{name:?}"
        );
    }
    assert_eq!(
        status(&mut client, "nope").await.unwrap_err().code(),
        tonic::Code::NotFound
    );

    // A dependency outage: readiness fails over both protocols, `""` does not.
    service.admin("/dependency/down").await;
    readiness_becomes(&service, 503, INTERVAL + TIMEOUT + SLACK).await;
    assert_eq!(
        status(&mut client, "readiness").await.unwrap(),
        ServingStatus::NotServing
    );
    assert_eq!(
        status(&mut client, "").await.unwrap(),
        ServingStatus::Serving
    );
}
