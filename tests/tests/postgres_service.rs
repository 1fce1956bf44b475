//! End-to-end PostgreSQL scenarios: the example service with `--postgres URL` (a pool of
//! 4, checked every 2 s with a 500 ms timeout and a success threshold of 2) against a
//! real server, broken in the ways a database breaks.
//!
//! The server is `DATABASE_URL`; each service names its connections with an
//! `application_name` of its own, so scenarios share the server without seeing each
//! other. The scenario that stops its server gets a private cluster. Each limit is the
//! schedule's budget plus a second of slack for a loaded CI machine, as in
//! `scenarios.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use health_tests::postgres::{
    self, Activity, Cluster, StallingProxy, backends, terminate, with_application_name,
};
use health_tests::{
    INTERVAL, SLACK, Service, TIMEOUT, readiness_becomes, run_example, storm,
    times_out_while_probes_answer, within,
};

async fn start(url: &str) -> Service {
    Service::start(&["--warmup", "0s", "--postgres", url]).await
}

/// Prints a scenario's measured time (visible with `--nocapture`).
fn observed(what: &str, took: Duration) {
    eprintln!("observed: {what} after {} ms", took.as_millis());
}

#[tokio::test]
async fn ready_with_round_trip_and_pool_in_health_json() {
    let Some((admin, url, name)) = postgres::server(
        "ready_with_round_trip_and_pool_in_health_json",
        "health-service",
    ) else {
        return;
    };
    let service = start(&url).await;
    observed("ready", service.ready().await);
    let answer = service.get_json("/readyz").await;
    assert_eq!(answer.status, 200);
    for part in [
        r#""postgres":[{"componentType":"datastore","status":"pass","#,
        r#""observedUnit":"ms"}]"#,
        r#""postgres:pool_max":[{"componentType":"datastore","status":"pass","#,
        r#""observedValue":4,"observedUnit":"connections"}]"#,
        r#""postgres:pool_in_use":["#,
    ] {
        assert!(answer.body.contains(part), "{part} in {}", answer.body);
    }
    assert_eq!(
        backends(&admin, &name).await.len(),
        1,
        "the check keeps one connection in the pool"
    );
}

#[tokio::test]
async fn stopped_server_fails_readiness_not_liveness_and_recovers() {
    let test = "stopped_server_fails_readiness_not_liveness_and_recovers";
    let Some(cluster) = Cluster::start(test).await else {
        return;
    };
    let service = start(&cluster.url()).await;
    service.ready().await;

    cluster.stop().await;
    let took = readiness_becomes(&service, 503, INTERVAL + TIMEOUT + SLACK).await;
    observed("server stopped: readiness 503", took);
    let verbose = service.get("/readyz?verbose").await;
    let refused = format!(
        "[-]postgres failed: connection refused by 127.0.0.1:{}",
        cluster.port()
    );
    assert!(verbose.body.contains(&refused), "{}", verbose.body);

    cluster.start_server().await;
    let took = readiness_becomes(&service, 200, 2 * INTERVAL + TIMEOUT + SLACK).await;
    observed("server back: ready", took);
    // Two passing runs, an interval apart, bring it back; the first may have run while
    // `pg_ctl start` was still polling for the server (every 100 ms).
    assert!(
        took + Duration::from_millis(500) >= INTERVAL,
        "ready after one passing run: {took:?}"
    );
}

#[tokio::test]
async fn held_pool_is_degraded_ready_with_warn() {
    let Some((_, url, _)) =
        postgres::server("held_pool_is_degraded_ready_with_warn", "health-service")
    else {
        return;
    };
    let service = start(&url).await;
    service.ready().await;

    service.admin("/postgres/hold").await;
    // Degraded is the check's own verdict, reached before its deadline: a check that
    // waited in the pool's queue would end as "timed out after 500ms" instead.
    let took = within(
        INTERVAL + TIMEOUT + SLACK,
        "the check sees the pool full",
        || async {
            let verbose = service.get("/readyz?verbose").await;
            assert!(
                !verbose.body.contains("timed out"),
                "the check waited: {}",
                verbose.body
            );
            verbose
                .body
                .contains("[+]postgres warn: pool exhausted: 4/4 connections in use")
        },
    )
    .await;
    observed("pool held: Degraded", took);
    assert_eq!(
        service.get("/readyz").await.status,
        200,
        "warn still passes"
    );
    let json = service.get_json("/readyz").await;
    assert!(
        json.body.starts_with(r#"{"status":"warn""#),
        "{}",
        json.body
    );
    assert!(
        json.body
            .contains(r#""postgres:pool_in_use":[{"componentType":"datastore","status":"warn","#),
        "{}",
        json.body
    );

    service.admin("/postgres/release").await;
    within(
        INTERVAL + TIMEOUT + SLACK,
        "the check passes again",
        || async {
            service
                .get("/readyz?verbose")
                .await
                .body
                .contains("[+]postgres ok")
        },
    )
    .await;
}

#[tokio::test]
async fn stalled_server_times_out_and_probes_still_answer() {
    let Some((admin, _, name)) = postgres::server(
        "stalled_server_times_out_and_probes_still_answer",
        "health-service",
    ) else {
        return;
    };
    let proxy = StallingProxy::start(postgres::server_addr(&admin).await).await;
    let url = with_application_name(
        &format!("postgres://postgres@{}/postgres", proxy.addr),
        &name,
    );
    let service = start(&url).await;
    service.ready().await;

    proxy.stall();
    let took =
        times_out_while_probes_answer(&service, "postgres", INTERVAL + TIMEOUT + SLACK).await;
    observed("server stalled: readiness 503", took);
    let verbose = service.get("/readyz?verbose").await;
    assert!(
        verbose
            .body
            .contains("[-]postgres failed: timed out after 500ms"),
        "{}",
        verbose.body
    );

    proxy.resume();
    let took = readiness_becomes(&service, 200, 2 * INTERVAL + TIMEOUT + SLACK).await;
    observed("server answering again: ready", took);
    drop(service);
    terminate(&admin, &name).await;
}

#[tokio::test]
async fn killed_backend_is_replaced_by_the_next_run() {
    let Some((admin, url, name)) = postgres::server(
        "killed_backend_is_replaced_by_the_next_run",
        "health-service",
    ) else {
        return;
    };
    let service = start(&url).await;
    service.ready().await;
    let killed = terminate(&admin, &name).await;
    assert_eq!(killed.len(), 1, "the check's pooled connection");

    let mut activity = Activity::connect(&admin).await;
    let took = within(
        INTERVAL + TIMEOUT + SLACK,
        "a new connection replaces it",
        async || {
            let verbose = service.get("/readyz?verbose").await.body;
            assert!(
                !verbose.contains("connection lost"),
                "the dead connection failed a run: {verbose}"
            );
            let now = activity.backends(&name).await;
            !now.is_empty() && now.iter().all(|pid| !killed.contains(pid))
        },
    )
    .await;
    observed("backend killed: replaced", took);
    activity.close().await;
    let verbose = service.get("/readyz?verbose").await;
    assert!(verbose.body.contains("[+]postgres ok"), "{}", verbose.body);
}

#[tokio::test]
async fn probe_storm_opens_no_database_connections() {
    let Some((admin, url, name)) = postgres::server(
        "probe_storm_opens_no_database_connections",
        "health-service",
    ) else {
        return;
    };
    let service = start(&url).await;
    service.ready().await;
    let before = backends(&admin, &name).await;
    assert_eq!(before.len(), 1, "the check's one pooled connection");

    // Sample pg_stat_activity all through the storm, on one connection of our own.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (admin, name, done) = (admin.clone(), name.clone(), Arc::clone(&done));
        async move {
            let mut activity = Activity::connect(&admin).await;
            let mut seen = BTreeSet::new();
            let mut samples = 0_u32;
            while !done.load(Ordering::Relaxed) {
                seen.extend(activity.backends(&name).await);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            activity.close().await;
            (seen, samples)
        }
    });
    let elapsed = storm(&service.addr, "/readyz", 16, 100, 200).await;
    done.store(true, Ordering::Relaxed);
    let (seen, reads) = sampler.await.unwrap();
    let after = backends(&admin, &name).await;
    eprintln!(
        "observed: 1600 probes in {} ms, {reads} reads of pg_stat_activity",
        elapsed.as_millis()
    );
    assert_eq!(after, before, "the pooled connection is the same one");
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        before,
        "1600 probes opened database connections"
    );
}

#[tokio::test]
async fn bad_postgres_urls_are_flag_errors_that_hide_the_password() {
    for (url, says) in [
        ("not a url", "--postgres: not a PostgreSQL URL"),
        (
            "postgres://app:s3cret-pw@db:notaport/app",
            "--postgres: not a PostgreSQL URL",
        ),
    ] {
        let (code, stderr) = run_example(&["--postgres", url]).await;
        assert_eq!(code, Some(2), "{url}: {stderr}");
        assert!(
            stderr.contains(says),
            "{url}: {stderr:?} should say {says:?}"
        );
        assert!(!stderr.contains("s3cret"), "{stderr:?} shows the password");
    }
}
