//! `grpc.health.v1.Health` end to end: a tonic client against `GrpcHealth`, one test per
//! rule of the protocol and of our names, each run three times: mounted in tonic's own
//! server, on `serve`'s one port, and on the probe server's own thread (`spawn`).

mod common;

on_every_host!(
    every_name_answers_for_its_probe_check_or_alias,
    the_overall_status_fails_from_the_start_of_shutdown_while_liveness_passes,
    an_unknown_name_is_not_found,
    a_checks_status_is_the_http_verdict,
    list_gives_every_name_with_its_status,
    list_refuses_more_than_100_names,
    watch_sends_the_status_at_once_then_only_changes,
    a_change_of_a_check_that_moves_no_probe_still_reaches_its_watchers,
    a_check_going_stale_reaches_its_watchers,
    watching_an_unknown_name_sends_service_unknown_and_stays_open,
    watches_past_the_bound_are_resource_exhausted_until_one_closes,
    stopping_sends_not_serving_to_every_watcher_then_ends_the_streams,
    a_graceful_shutdown_with_open_watches_finishes_once_the_registry_stops,
    a_watcher_that_never_reads_gets_the_latest_status_not_every_flip,
);

// What only `serve` does: one port for HTTP/1.1 and gRPC, and its drain.
on_hosts!([Serve, Spawned] =>
    http_and_grpc_share_one_port,
    serve_ends_watches_so_they_never_hold_the_drain,
);

use std::time::Duration;

use health_core::{CheckHandle, CheckSpec, ManualClock, Registry, RegistryBuilder};
use health_http::HealthService;
use health_http::grpc::pb::HealthListRequest;
use health_http::grpc::pb::health_check_response::ServingStatus::{
    self, NotServing, ServiceUnknown, Serving,
};
use health_http::grpc::{GrpcHealth, NameError};
use http::{Request, StatusCode};
use hyper::service::Service as _;
use tonic::Code;

use crate::common::grpc::{
    GrpcServer, Host, check, client, eventually, next, start, watch, within,
};

/// A registry with one check per probe: `worker` (liveness), `db` (readiness), `warmup`
/// (startup), all without a result yet.
struct App {
    registry: Registry,
    worker: CheckHandle,
    db: CheckHandle,
    warmup: CheckHandle,
}

fn app() -> App {
    let mut builder = Registry::builder();
    let worker = builder.push(CheckSpec::new("worker").liveness()).unwrap();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let warmup = builder.push(CheckSpec::new("warmup").startup()).unwrap();
    App {
        registry: builder.build(),
        worker,
        db,
        warmup,
    }
}

/// [`app`] with every check healthy, so every probe, check and alias serves.
fn healthy_app() -> App {
    let app = app();
    app.worker.healthy();
    app.warmup.healthy();
    app.db.healthy();
    app
}

async fn serve_app(host: Host, app: &App) -> GrpcServer {
    let health = GrpcHealth::builder(app.registry.clone())
        .alias("shop.v1.Orders", health_core::Probe::Readiness)
        .build()
        .unwrap();
    start(host, health).await
}

async fn every_name_answers_for_its_probe_check_or_alias(host: Host) {
    let app = app();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let names = [
        "",
        "liveness",
        "readiness",
        "startup",
        "worker",
        "db",
        "warmup",
        "shop.v1.Orders",
    ];
    let statuses = async |client: &mut _| {
        let mut statuses = Vec::new();
        for name in names {
            statuses.push(check(client, name).await.unwrap());
        }
        statuses
    };

    // Nothing has reported: liveness lets an unknown member pass, the others do not.
    assert_eq!(
        statuses(&mut client).await,
        [
            Serving, Serving, NotServing, NotServing, Serving, NotServing, NotServing, NotServing
        ]
    );
    app.warmup.healthy();
    app.db.healthy();
    app.worker.healthy();
    assert_eq!(statuses(&mut client).await, [Serving; 8]);
    // A dependency outage: readiness and its alias fail, `""` and liveness do not.
    app.db.unhealthy("connection refused");
    assert_eq!(
        statuses(&mut client).await,
        [
            Serving, Serving, NotServing, Serving, Serving, NotServing, Serving, NotServing
        ]
    );
    // A wedged worker fails liveness, and so `""`.
    app.db.healthy();
    app.worker.unhealthy("stalled");
    assert_eq!(
        statuses(&mut client).await,
        [
            NotServing, NotServing, Serving, Serving, NotServing, Serving, Serving, Serving
        ]
    );
    server.shut_down().await;
}

async fn the_overall_status_fails_from_the_start_of_shutdown_while_liveness_passes(host: Host) {
    let app = healthy_app();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    assert_eq!(check(&mut client, "").await, Ok(Serving));

    app.registry.begin_shutdown();
    assert_eq!(check(&mut client, "").await, Ok(NotServing));
    assert_eq!(check(&mut client, "readiness").await, Ok(NotServing));
    assert_eq!(check(&mut client, "liveness").await, Ok(Serving));
    server.shut_down().await;
}

async fn an_unknown_name_is_not_found(host: Host) {
    let app = app();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    assert_eq!(check(&mut client, "nope").await, Err(Code::NotFound));
    // Names match exactly.
    assert_eq!(check(&mut client, "Readiness").await, Err(Code::NotFound));
    assert_eq!(
        check(&mut client, "shop.v1.orders").await,
        Err(Code::NotFound)
    );
    server.shut_down().await;
}

/// Every combination of probe, criticality and status: Check says `SERVING` exactly when
/// every HTTP answer for the check (`/<probe>/<check>`) is 200.
async fn a_checks_status_is_the_http_verdict(host: Host) {
    #[derive(Clone, Copy, Debug)]
    enum Set {
        Nothing,
        Healthy,
        Degraded,
        Unhealthy,
        Stale,
    }
    let probe_sets: [&[health_core::Probe]; 3] = [
        &[health_core::Probe::Liveness],
        &[health_core::Probe::Readiness],
        &[health_core::Probe::Liveness, health_core::Probe::Readiness],
    ];
    let mut cases = 0;
    for probes in probe_sets {
        for critical in [true, false] {
            for set in [
                Set::Nothing,
                Set::Healthy,
                Set::Degraded,
                Set::Unhealthy,
                Set::Stale,
            ] {
                let time = ManualClock::new();
                let mut builder = RegistryBuilder::with_clock(time.clock());
                let mut spec = CheckSpec::new("dep")
                    .critical(critical)
                    .max_age(Duration::from_secs(30));
                for &probe in probes {
                    spec = spec.probe(probe);
                }
                let dep = builder.push(spec).unwrap();
                let registry = builder.build();
                match set {
                    Set::Nothing => {}
                    Set::Healthy => dep.healthy(),
                    Set::Degraded => dep.degraded("slow"),
                    Set::Unhealthy => dep.unhealthy("down"),
                    Set::Stale => {
                        dep.healthy();
                        time.advance(Duration::from_secs(31));
                    }
                }
                let http = HealthService::new(registry.clone());
                let mut all_ok = true;
                for &probe in probes {
                    let path = format!("/{}/dep", probe.path());
                    let response = http
                        .call(Request::get(path).body(()).unwrap())
                        .await
                        .unwrap();
                    all_ok &= response.status() == StatusCode::OK;
                }
                let server = start(host, GrpcHealth::new(registry).unwrap()).await;
                let mut client = client(server.addr).await;
                let expected = if all_ok { Serving } else { NotServing };
                assert_eq!(
                    check(&mut client, "dep").await,
                    Ok(expected),
                    "{probes:?}, critical {critical}, {set:?}"
                );
                server.shut_down().await;
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 30);
}

async fn list_gives_every_name_with_its_status(host: Host) {
    let app = app();
    app.worker.healthy();
    app.warmup.healthy();
    app.db.unhealthy("down");
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let list = within(client.list(HealthListRequest {}))
        .await
        .unwrap()
        .into_inner();
    let mut statuses: Vec<(String, ServingStatus)> = list
        .statuses
        .into_iter()
        .map(|(name, response)| (name, response.status()))
        .collect();
    statuses.sort();
    let expected = [
        ("", Serving),
        ("db", NotServing),
        ("liveness", Serving),
        ("readiness", NotServing),
        ("shop.v1.Orders", NotServing),
        ("startup", Serving),
        ("warmup", Serving),
        ("worker", Serving),
    ];
    assert_eq!(
        statuses,
        expected.map(|(name, status)| (name.to_owned(), status))
    );
    server.shut_down().await;
}

async fn list_refuses_more_than_100_names(host: Host) {
    // `""` and the three probes make 4: 96 checks are the most List answers.
    for (checks, answered) in [(96, true), (97, false)] {
        let mut builder = Registry::builder();
        for i in 0..checks {
            builder
                .push(CheckSpec::new(format!("c{i}")).readiness())
                .unwrap();
        }
        let server = start(host, GrpcHealth::new(builder.build()).unwrap()).await;
        let mut client = client(server.addr).await;
        let list = within(client.list(HealthListRequest {})).await;
        match list {
            Ok(list) => {
                assert!(answered);
                assert_eq!(list.into_inner().statuses.len(), 100);
            }
            Err(status) => {
                assert!(!answered);
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(
                    status.message().contains("101 services"),
                    "{}",
                    status.message()
                );
            }
        }
        server.shut_down().await;
    }
}

#[test]
fn ambiguous_names_are_refused_when_the_service_is_built() {
    use health_core::Probe::{Liveness, Readiness};

    let with_check = |name: &str| {
        let mut builder = Registry::builder();
        builder.push(CheckSpec::new(name).readiness()).unwrap();
        builder.build()
    };
    let ambiguous = |err: NameError| match err {
        NameError::Ambiguous {
            name,
            first,
            second,
        } => (name, first, second),
        other => panic!("unexpected {other:?}"),
    };
    // (`startup` is reserved by health-core itself, for readiness' lifecycle lines.)
    let err = GrpcHealth::new(with_check("readiness")).unwrap_err();
    assert_eq!(
        ambiguous(err),
        (
            "readiness".into(),
            "the readiness probe".into(),
            "a check".into()
        )
    );
    let cases = [
        ("", "the server's overall status"),
        ("liveness", "the liveness probe"),
        ("db", "a check"),
    ];
    for (alias, first) in cases {
        let err = GrpcHealth::builder(with_check("db"))
            .alias(alias, Readiness)
            .build()
            .unwrap_err();
        assert_eq!(
            ambiguous(err),
            (
                alias.into(),
                first.into(),
                "an alias of the readiness probe".into()
            )
        );
    }
    let err = GrpcHealth::builder(with_check("db"))
        .alias("shop.v1.Orders", Readiness)
        .alias("shop.v1.Orders", Liveness)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gRPC health name \"shop.v1.Orders\" is ambiguous: it names an alias of the readiness \
         probe and an alias of the liveness probe"
    );
    // Distinct names are fine, two aliases of one probe included.
    GrpcHealth::builder(with_check("db"))
        .alias("shop.v1.Orders", Readiness)
        .alias("shop.v1.Payments", Readiness)
        .alias("shop.v1.Admin", Liveness)
        .build()
        .unwrap();
}

async fn watch_sends_the_status_at_once_then_only_changes(host: Host) {
    let app = app();
    app.warmup.healthy();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let mut readiness = watch(&mut client, "readiness").await.unwrap();
    let mut db = watch(&mut client, "db").await.unwrap();
    assert_eq!(next(&mut readiness).await, Some(NotServing));
    assert_eq!(next(&mut db).await, Some(NotServing));

    app.db.healthy();
    assert_eq!(next(&mut readiness).await, Some(Serving));
    assert_eq!(next(&mut db).await, Some(Serving));
    // Writes that leave the status as it is send nothing: the next message is the next
    // change, not a repeat.
    app.db.healthy();
    app.db.degraded("slow");
    app.db.healthy();
    app.db.unhealthy("down");
    assert_eq!(next(&mut readiness).await, Some(NotServing));
    assert_eq!(next(&mut db).await, Some(NotServing));
    server.shut_down().await;
}

async fn a_change_of_a_check_that_moves_no_probe_still_reaches_its_watchers(host: Host) {
    // Both fail, so readiness fails; `a` recovering leaves readiness failing, but `a`'s
    // own status changes and its watchers must hear of it.
    let mut builder = Registry::builder();
    let a = builder.push(CheckSpec::new("a").readiness()).unwrap();
    let b = builder.push(CheckSpec::new("b").readiness()).unwrap();
    let registry = builder.build();
    a.unhealthy("down");
    b.unhealthy("down");
    let server = start(host, GrpcHealth::new(registry).unwrap()).await;
    let mut client = client(server.addr).await;
    let mut watched = watch(&mut client, "a").await.unwrap();
    let mut readiness = watch(&mut client, "readiness").await.unwrap();
    assert_eq!(next(&mut watched).await, Some(NotServing));
    assert_eq!(next(&mut readiness).await, Some(NotServing));
    a.healthy();
    assert_eq!(next(&mut watched).await, Some(Serving));
    b.healthy();
    assert_eq!(next(&mut readiness).await, Some(Serving));
    server.shut_down().await;
}

async fn a_check_going_stale_reaches_its_watchers(host: Host) {
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    let db = builder
        .push(
            CheckSpec::new("db")
                .readiness()
                .max_age(Duration::from_secs(30)),
        )
        .unwrap();
    let registry = builder.build();
    db.healthy();
    let server = start(host, GrpcHealth::new(registry).unwrap()).await;
    let mut client = client(server.addr).await;
    let mut watched = watch(&mut client, "db").await.unwrap();
    assert_eq!(next(&mut watched).await, Some(Serving));
    // Nothing is written, so nothing is announced: the periodic re-read notices.
    time.advance(Duration::from_secs(31));
    assert_eq!(next(&mut watched).await, Some(NotServing));
    server.shut_down().await;
}

async fn watching_an_unknown_name_sends_service_unknown_and_stays_open(host: Host) {
    let app = app();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let mut unknown = watch(&mut client, "nope").await.unwrap();
    assert_eq!(next(&mut unknown).await, Some(ServiceUnknown));
    // Changes elsewhere send it nothing; it is open until the registry stops.
    app.db.healthy();
    app.warmup.healthy();
    assert_eq!(server.health.open_watches(), 1);
    app.registry.stop();
    assert_eq!(next(&mut unknown).await, Some(NotServing));
    assert_eq!(next(&mut unknown).await, None);
    server.shut_down().await;
}

async fn watches_past_the_bound_are_resource_exhausted_until_one_closes(host: Host) {
    let registry = Registry::builder().build();
    let health = GrpcHealth::builder(registry)
        .max_watches(2)
        .build()
        .unwrap();
    let server = start(host, health).await;
    let mut client = client(server.addr).await;
    let mut first = watch(&mut client, "").await.unwrap();
    let mut second = watch(&mut client, "nope").await.unwrap();
    assert_eq!(next(&mut first).await, Some(Serving));
    assert_eq!(next(&mut second).await, Some(ServiceUnknown));
    assert_eq!(
        watch(&mut client, "readiness").await.err(),
        Some(Code::ResourceExhausted)
    );
    // Check and List are not bounded by it.
    assert_eq!(check(&mut client, "readiness").await, Ok(Serving));

    drop(first); // the client resets the stream; the server drops the watch
    eventually(|| server.health.open_watches() == 1).await;
    let mut third = watch(&mut client, "readiness").await.unwrap();
    assert_eq!(next(&mut third).await, Some(Serving));
    server.shut_down().await;
}

async fn stopping_sends_not_serving_to_every_watcher_then_ends_the_streams(host: Host) {
    let app = healthy_app();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let mut watches = Vec::new();
    for name in ["", "liveness", "readiness", "db", "shop.v1.Orders", "nope"] {
        let mut stream = watch(&mut client, name).await.unwrap();
        let first = next(&mut stream).await;
        watches.push((name, stream, first));
    }
    // Draining: `""` and readiness fail; liveness and the checks go on as they are.
    app.registry.begin_shutdown();
    for (name, stream, _) in &mut watches {
        if ["", "readiness", "shop.v1.Orders"].contains(name) {
            assert_eq!(next(stream).await, Some(NotServing), "{name:?}");
        }
    }
    // Stopped: every watch ends with NOT_SERVING, sent once.
    app.registry.stop();
    for (name, stream, first) in &mut watches {
        if ["liveness", "db", "nope"].contains(name) {
            assert_ne!(*first, Some(NotServing));
            assert_eq!(next(stream).await, Some(NotServing), "{name:?}");
        }
        assert_eq!(next(stream).await, None, "{name:?}");
    }
    assert_eq!(server.health.open_watches(), 0);
    // A watch opened now gets NOT_SERVING and ends at once.
    let mut late = watch(&mut client, "liveness").await.unwrap();
    assert_eq!(next(&mut late).await, Some(NotServing));
    assert_eq!(next(&mut late).await, None);
    // Nothing holds the graceful shutdown open.
    drop(watches);
    server.shut_down().await;
}

async fn a_graceful_shutdown_with_open_watches_finishes_once_the_registry_stops(host: Host) {
    let app = app();
    app.worker.healthy();
    let server = serve_app(host, &app).await;
    let mut client = client(server.addr).await;
    let mut watches = Vec::new();
    for name in ["", "liveness", "nope"] {
        let mut stream = watch(&mut client, name).await.unwrap();
        next(&mut stream).await.unwrap();
        watches.push(stream);
    }
    // tonic's graceful shutdown waits for open calls; stopping the registry ends them.
    app.registry.stop();
    for stream in &mut watches {
        assert_eq!(next(stream).await, Some(NotServing));
        assert_eq!(next(stream).await, None);
    }
    server.shut_down().await;
}

/// A client that never reads its watch: the server queues nothing for it. Its flow-
/// control window (here 64 bytes: 9 messages of 7) is all that can pile up; when it
/// reads, it gets what the window held and then the newest status, not every flip.
async fn a_watcher_that_never_reads_gets_the_latest_status_not_every_flip(host: Host) {
    const FLIPS: usize = 1_000; // even: ends on SERVING
    const WINDOW: u32 = 64;
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    db.healthy();
    let server = start(host, GrpcHealth::new(registry).unwrap()).await;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW);
    let channel = within(endpoint.connect()).await.unwrap();
    let mut slow = health_http::grpc::pb::health_client::HealthClient::new(channel);
    let mut slow_watch = watch(&mut slow, "db").await.unwrap();
    // A second watcher that reads every message: once it has a status, the server has
    // published it, so the slow watcher had its chance to take it too.
    let mut witness_client = client(server.addr).await;
    let mut witness = watch(&mut witness_client, "db").await.unwrap();
    assert_eq!(next(&mut witness).await, Some(Serving));
    let mut status = Serving;
    for _ in 0..FLIPS {
        status = if status == Serving {
            db.unhealthy("down");
            NotServing
        } else {
            db.healthy();
            Serving
        };
        assert_eq!(next(&mut witness).await, Some(status));
    }
    // Other calls are answered meanwhile, on the slow client's own connection too.
    assert_eq!(check(&mut witness_client, "db").await, Ok(status));
    assert_eq!(check(&mut slow, "db").await, Ok(status));

    assert_eq!(
        status, Serving,
        "an even number of flips ends where it began"
    );

    // Stopping ends the watch: the slow reader now reads everything it will ever get.
    server.health.registry().stop();
    let mut received = Vec::new();
    while let Some(status) = next(&mut slow_watch).await {
        received.push(status);
    }
    // What its window held when it stopped reading (at most 9 messages, one more that
    // the server wrote into the window's last byte), the latest status, NOT_SERVING.
    let most = WINDOW as usize / 7 + 3;
    assert!(
        received.len() <= most,
        "{} messages for {FLIPS} flips: the server queued them",
        received.len()
    );
    assert!(received.len() >= 2, "{received:?}");
    assert_eq!(received[received.len() - 2..], [Serving, NotServing]);
    assert!(
        received.windows(2).all(|pair| pair[0] != pair[1]),
        "{received:?}"
    );
    server.shut_down().await;
}

/// HTTP/1.1 probes and h2c gRPC on `serve`'s one port, from the same registry.
async fn http_and_grpc_share_one_port(host: Host) {
    let app = app();
    let server = serve_app(host, &app).await;
    let addr = server.addr;
    let mut client = client(addr).await;
    let readyz = move || common::blocking(move || common::get(addr, "/readyz"));
    assert_eq!(readyz().await.status, 503);
    assert_eq!(check(&mut client, "readiness").await, Ok(NotServing));
    app.warmup.healthy();
    app.db.healthy();
    assert_eq!(readyz().await.status, 200);
    assert_eq!(check(&mut client, "readiness").await, Ok(Serving));
    server.shut_down().await;
}

/// `serve`'s graceful shutdown with watches open: `""` and readiness fail when the drain
/// begins, every watch ends with `NOT_SERVING` when it ends, and the server finishes at
/// once, though each connection would be allowed an hour to close.
async fn serve_ends_watches_so_they_never_hold_the_drain(host: Host) {
    let app = healthy_app();
    let health = GrpcHealth::new(app.registry.clone()).unwrap();
    let server = crate::common::grpc::start_with(host, health, |serve| {
        serve.header_read_timeout(Duration::from_hours(1))
    })
    .await;
    let mut client = client(server.addr).await;
    let mut watches = Vec::new();
    for name in ["", "liveness", "readiness", "nope"] {
        let mut stream = watch(&mut client, name).await.unwrap();
        next(&mut stream).await.unwrap();
        watches.push(stream);
    }
    let shut_down = tokio::spawn(server.shut_down());
    for stream in &mut watches {
        assert_eq!(next(stream).await, Some(NotServing));
        assert_eq!(next(stream).await, None);
    }
    within(shut_down).await.unwrap();
    assert_eq!(app.registry.phase(), health_core::Phase::Stopped);
}

/// `serve` given the gRPC service of another registry (a mistake it warns about): the
/// server's shutdown is that registry's too, so its watches end and never hold the drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_service_of_another_registry_shuts_down_with_the_server() {
    let (http, grpc) = (healthy_app(), healthy_app());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = health_http::serve(listener, HealthService::new(http.registry.clone()))
        .drain_delay(Duration::ZERO)
        .grpc(GrpcHealth::new(grpc.registry.clone()).unwrap())
        .with_graceful_shutdown(async {
            stopped.await.ok();
        });
    let server = tokio::spawn(std::future::IntoFuture::into_future(server));
    let mut client = client(addr).await;
    let mut readiness = watch(&mut client, "readiness").await.unwrap();
    assert_eq!(next(&mut readiness).await, Some(Serving));
    stop.send(()).unwrap();
    assert_eq!(next(&mut readiness).await, Some(NotServing));
    assert_eq!(next(&mut readiness).await, None);
    within(server).await.unwrap();
    assert_eq!(grpc.registry.phase(), health_core::Phase::Stopped);
    assert_eq!(http.registry.phase(), health_core::Phase::Stopped);
}
