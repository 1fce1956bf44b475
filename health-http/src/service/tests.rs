//! Routes, formats and headers, called directly (no sockets).

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use health_core::{CheckHandle, CheckKind, CheckSpec, Report, StartupGate, Status};
use http::header;
use hyper::body::Body as _;
use hyper::service::Service as _;

use super::*;

/// `db` (a dependency) and `cache` (non-critical) on readiness, `loop` on liveness.
fn fixture() -> (HealthService, CheckHandle, CheckHandle, CheckHandle) {
    let mut builder = Registry::builder();
    let db = builder
        .push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))
        .unwrap();
    let cache = builder
        .push(CheckSpec::new("cache").readiness().critical(false))
        .unwrap();
    let worker = builder.push(CheckSpec::new("loop").liveness()).unwrap();
    db.healthy();
    cache.healthy();
    worker.healthy();
    (HealthService::new(builder.build()), db, cache, worker)
}

fn request(method: Method, uri: &str) -> Request<()> {
    Request::builder().method(method).uri(uri).body(()).unwrap()
}

fn call(service: &HealthService, request: Request<()>) -> Response<Full<Bytes>> {
    service.call(request).into_inner().unwrap()
}

/// The body's one frame, as the connection would get it (no copy on the way).
fn body_bytes(response: &mut Response<Full<Bytes>>) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(response.body_mut()).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap(),
        Poll::Ready(None) => Bytes::new(),
        other => panic!("a Full body is ready at once: {other:?}"),
    }
}

fn get(service: &HealthService, uri: &str) -> (StatusCode, String) {
    let mut response = call(service, request(Method::GET, uri));
    let body = body_bytes(&mut response);
    (response.status(), String::from_utf8(body.to_vec()).unwrap())
}

fn get_json(service: &HealthService, uri: &str) -> (StatusCode, String) {
    let request = Request::get(uri)
        .header(
            header::ACCEPT,
            "application/json, application/health+json;q=0.9",
        )
        .body(())
        .unwrap();
    let mut response = call(service, request);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/health+json"
    );
    let body = body_bytes(&mut response);
    (response.status(), String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn plain_probes_answer_ok_on_pass_and_warn_and_the_verdict_on_fail() {
    let (service, db, cache, _) = fixture();
    for path in ["/livez", "/readyz", "/startupz", "/healthz"] {
        assert_eq!(
            get(&service, path),
            (StatusCode::OK, "ok".to_owned()),
            "{path}"
        );
    }
    cache.unhealthy("evicted"); // non-critical: warn, still passing
    assert_eq!(get(&service, "/readyz"), (StatusCode::OK, "ok".to_owned()));
    db.unhealthy("connection refused");
    let failed = (
        StatusCode::SERVICE_UNAVAILABLE,
        "readyz check failed\n".to_owned(),
    );
    assert_eq!(get(&service, "/readyz"), failed);
    assert_eq!(get(&service, "/livez"), (StatusCode::OK, "ok".to_owned()));
}

/// Many charts point `livenessProbe` at `/healthz`: it answers as liveness, so neither a
/// dependency outage nor a drain restarts the pod, while a wedged loop still does.
#[test]
fn healthz_answers_as_liveness_never_for_a_dependency_or_a_drain() {
    let (service, db, _, worker) = fixture();
    db.unhealthy("connection refused");
    assert_eq!(get(&service, "/readyz").0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&service, "/healthz"), (StatusCode::OK, "ok".to_owned()));
    service.registry().begin_shutdown();
    assert_eq!(get(&service, "/healthz"), (StatusCode::OK, "ok".to_owned()));
    assert_eq!(
        get(&service, "/healthz?verbose").1,
        "[+]loop ok\nhealthz check passed\n",
        "liveness' members, under its own name"
    );
    assert_eq!(get(&service, "/healthz/loop").0, StatusCode::OK);
    assert_eq!(
        get(&service, "/healthz/db").0,
        StatusCode::NOT_FOUND,
        "not a liveness member"
    );

    worker.unhealthy("wedged");
    assert_eq!(
        get(&service, "/healthz"),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "healthz check failed\n".to_owned()
        )
    );
    assert_eq!(get_json(&service, "/healthz"), get_json(&service, "/livez"));
}

#[test]
fn liveness_and_startup_fail_with_their_own_names() {
    let gate = StartupGate::new();
    let mut builder = Registry::builder();
    let worker = builder.push(CheckSpec::new("loop").liveness()).unwrap();
    builder
        .gate(CheckSpec::new("warmup").startup(), &gate)
        .unwrap();
    let service = HealthService::new(builder.build());
    worker.unhealthy("wedged");
    let failed = (
        StatusCode::SERVICE_UNAVAILABLE,
        "livez check failed\n".to_owned(),
    );
    assert_eq!(get(&service, "/livez"), failed);
    let failed = (
        StatusCode::SERVICE_UNAVAILABLE,
        "startupz check failed\n".to_owned(),
    );
    assert_eq!(get(&service, "/startupz"), failed);
    gate.done();
    assert_eq!(
        get(&service, "/startupz"),
        (StatusCode::OK, "ok".to_owned())
    );
}

#[test]
fn plain_bodies_are_prepared_statics_never_copied() {
    let (service, db, ..) = fixture();
    let (other, ..) = fixture();
    let mut first = call(&service, request(Method::GET, "/readyz"));
    let mut second = call(&other, request(Method::GET, "/livez"));
    // Same bytes at the same address: both point into the binary, not at a copy.
    assert_eq!(
        body_bytes(&mut first).as_ptr(),
        body_bytes(&mut second).as_ptr()
    );
    db.unhealthy("down");
    let mut first = call(&service, request(Method::GET, "/readyz"));
    let mut second = call(&service, request(Method::GET, "/readyz"));
    assert_eq!(
        body_bytes(&mut first).as_ptr(),
        body_bytes(&mut second).as_ptr()
    );
}

#[test]
fn every_answer_carries_the_headers_and_its_length() {
    let (service, db, ..) = fixture();
    let check = |service: &HealthService, request: Request<()>| {
        let uri = request.uri().to_string();
        let mut response = call(service, request);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert!(headers.contains_key(header::CONTENT_TYPE), "{uri}");
        let length = body_bytes(&mut response).len().to_string();
        assert_eq!(headers[header::CONTENT_LENGTH], length.as_str(), "{uri}");
    };
    for failing in [false, true] {
        if failing {
            db.unhealthy("down");
        }
        for uri in [
            "/livez",
            "/readyz",
            "/startupz",
            "/healthz",
            "/readyz?verbose",
            "/readyz/db",
            "/readyz/db?verbose",
            "/readyz?exclude=db",
            "/nope",
            "/readyz/nope",
        ] {
            check(&service, request(Method::GET, uri));
            let json = Request::get(uri)
                .header(header::ACCEPT, "application/health+json")
                .body(())
                .unwrap();
            check(&service, json);
        }
        check(&service, request(Method::POST, "/readyz"));
    }
}

#[test]
fn head_answers_the_get_headers_without_a_body() {
    let (service, db, ..) = fixture();
    db.unhealthy("down");
    for uri in ["/readyz", "/readyz?verbose", "/readyz/db", "/nope"] {
        let mut get = call(&service, request(Method::GET, uri));
        let mut head = call(&service, request(Method::HEAD, uri));
        assert_eq!(head.status(), get.status(), "{uri}");
        assert_eq!(head.headers(), get.headers(), "{uri}");
        assert!(!body_bytes(&mut get).is_empty(), "{uri}");
        assert!(body_bytes(&mut head).is_empty(), "{uri}");
        assert!(head.body().is_end_stream());
    }
}

#[test]
fn other_methods_are_405_with_allow() {
    let (service, ..) = fixture();
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
    ] {
        let response = call(&service, request(method.clone(), "/readyz"));
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
    }
    let custom = Method::from_bytes(b"BREW").unwrap();
    let response = call(&service, request(custom, "/livez/loop"));
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn unknown_paths_and_non_members_are_404() {
    let (service, ..) = fixture();
    for uri in [
        "/",
        "/livezz",
        "/livez/",
        "/readyz/",
        "/readyz/nope",
        "/livez/db",
        "/readyz/db/x",
        "/readyz/../livez",
        "/READYZ",
        "//readyz",
        "/metrics",
    ] {
        assert_eq!(
            get(&service, uri),
            (StatusCode::NOT_FOUND, "not found\n".to_owned()),
            "{uri}"
        );
    }
}

#[test]
fn one_check_answers_ok_or_its_line() {
    let (service, db, cache, _) = fixture();
    assert_eq!(
        get(&service, "/readyz/db"),
        (StatusCode::OK, "ok".to_owned())
    );
    assert_eq!(
        get(&service, "/healthz/loop"),
        (StatusCode::OK, "ok".to_owned())
    );
    assert_eq!(
        get(&service, "/readyz/db?verbose"),
        (StatusCode::OK, "[+]db ok\n".to_owned())
    );
    assert_eq!(
        get(&service, "/livez/loop"),
        (StatusCode::OK, "ok".to_owned())
    );
    db.unhealthy("connection refused");
    let line = (
        StatusCode::SERVICE_UNAVAILABLE,
        "[-]db failed: reason withheld\n".to_owned(),
    );
    assert_eq!(get(&service, "/readyz/db"), line);
    cache.degraded("hit rate 40%");
    let warn = (
        StatusCode::OK,
        "[+]cache warn: reason withheld\n".to_owned(),
    );
    assert_eq!(get(&service, "/readyz/cache?verbose"), warn);
    assert_eq!(
        get(&service, "/readyz/cache"),
        (StatusCode::OK, "ok".to_owned())
    );
}

/// The documented case (crate docs, "Routes"): the API server's `/readyz?verbose`
/// while shutting down, as quoted in karmada-io/karmada#6277, byte for byte.
#[test]
fn verbose_readyz_matches_the_api_server_while_draining() {
    let mut builder = Registry::builder();
    let checks: Vec<_> = ["ping", "log", "etcd"]
        .map(|name| builder.push(CheckSpec::new(name).readiness()).unwrap())
        .into_iter()
        .collect();
    let service = HealthService::new(builder.build());
    checks.iter().for_each(CheckHandle::healthy);
    assert_eq!(
        get(&service, "/readyz?verbose"),
        (
            StatusCode::OK,
            "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]shutdown ok\nreadyz check passed\n".to_owned()
        )
    );
    service.registry().begin_shutdown();
    let expected = "[+]ping ok\n[+]log ok\n[+]etcd ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n";
    assert_eq!(
        get(&service, "/readyz?verbose"),
        (StatusCode::SERVICE_UNAVAILABLE, expected.to_owned())
    );
    // The kubernetes.io example of `?verbose&exclude=etcd`, with our endpoint name.
    let (_, excluded) = get(&service, "/readyz?verbose&exclude=etcd");
    assert!(
        excluded.starts_with("[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\n"),
        "{excluded}"
    );
}

#[test]
fn verbose_lists_members_in_order_with_exclusions_and_a_warning() {
    let (service, db, cache, _) = fixture();
    db.unhealthy("connection refused");
    cache.degraded("hit rate 40%");
    let (status, body) = get(
        &service,
        "/readyz?verbose&exclude=zz&exclude=db&exclude=a%22b&exclude=zz&exclude=%zz",
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "[+]db excluded: ok\n[+]cache warn: reason withheld\n[+]shutdown ok\n\
         warn: some health checks cannot be excluded: no matches for \"a\\\"b\",\"zz\"\n\
         readyz check passed\n"
    );
    // `verbose` counts with any value; exclusions without `verbose` still decide.
    assert_eq!(
        get(&service, "/readyz?verbose=false").1.lines().last(),
        Some("readyz check failed")
    );
    assert_eq!(
        get(&service, "/readyz?exclude=db"),
        (StatusCode::OK, "ok".to_owned())
    );
    assert_eq!(
        get(&service, "/readyz?exclude=cache").0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Unrelated parameters (a cache buster) keep the plain answer.
    assert_eq!(get(&service, "/livez?_=1").1, "ok");
    // Percent-encoded keys and values decode as Go's url.Query does.
    assert_eq!(
        get(&service, "/readyz?%76erbose&exclude=d%62")
            .1
            .lines()
            .next(),
        Some("[+]db excluded: ok")
    );
}

#[test]
fn readiness_shows_a_startup_line_while_starting() {
    let gate = StartupGate::new();
    let mut builder = Registry::builder();
    builder
        .gate(CheckSpec::new("warmup").startup(), &gate)
        .unwrap();
    let service = HealthService::new(builder.build());
    let expected = "[-]startup failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n";
    assert_eq!(
        get(&service, "/readyz?verbose"),
        (StatusCode::SERVICE_UNAVAILABLE, expected.to_owned())
    );
    assert_eq!(
        get(&service, "/startupz?verbose").1,
        "[-]warmup failed: reason withheld\nstartupz check failed\n"
    );
    gate.done();
    assert_eq!(
        get(&service, "/readyz?verbose").1,
        "[+]shutdown ok\nreadyz check passed\n"
    );
    // Liveness has no gates.
    assert_eq!(get(&service, "/livez?verbose").1, "livez check passed\n");
}

#[test]
fn reasons_are_withheld_unless_opted_in() {
    let (service, db, ..) = fixture();
    db.unhealthy("password authentication failed for user \"app\"\nat db:5432");
    let withheld = get(&service, "/readyz?verbose").1;
    assert!(
        withheld.contains("[-]db failed: reason withheld\n"),
        "{withheld}"
    );
    assert!(!get_json(&service, "/readyz").1.contains("output"));

    let shown = service.clone().details(true);
    let body = get(&shown, "/readyz?verbose").1;
    // One line per check, whatever the reason contains.
    assert!(
        body.contains("[-]db failed: password authentication failed for user \"app\" at db:5432\n"),
        "{body}"
    );
    assert!(
        get_json(&shown, "/readyz")
            .1
            .contains(r#""output":"password authentication failed for user \"app\"\nat db:5432""#)
    );
    shown.registry().begin_shutdown();
    assert!(
        get(&shown, "/readyz?verbose")
            .1
            .contains("[-]shutdown failed: process is shutting down\n")
    );

    let token =
        service.details_when(|parts| parts.headers.get("x-token").is_some_and(|t| t == "s3cret"));
    assert!(get(&token, "/readyz/db").1.contains("reason withheld"));
    let with_token = Request::get("/readyz/db")
        .header("x-token", "s3cret")
        .body(())
        .unwrap();
    let mut response = call(&token, with_token);
    assert!(
        String::from_utf8(body_bytes(&mut response).to_vec())
            .unwrap()
            .contains("password")
    );
}

#[test]
fn the_predicate_sees_the_peer_and_never_runs_for_plain_probes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (service, ..) = fixture();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let service = service.details_when(move |parts| {
        seen.fetch_add(1, Ordering::Relaxed);
        parts
            .extensions
            .get::<SocketAddr>()
            .is_some_and(|peer| peer.ip().is_loopback())
    });
    let service = service.with_peer("127.0.0.1:4000".parse().unwrap());
    let _ = get(&service, "/readyz");
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    let _ = get(&service, "/readyz?verbose");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let remote = service.with_peer("10.1.2.3:4000".parse().unwrap());
    let _ = get(&remote, "/readyz/db");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[test]
fn health_json_has_status_checks_and_notes() {
    let mut builder = Registry::builder();
    let db = builder
        .push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))
        .unwrap();
    builder.push(CheckSpec::new("queue").readiness()).unwrap(); // never reported
    let service = HealthService::new(builder.build()).details(true);
    db.publish(Report::new(Status::Healthy).with_observed(4.5, "ms"));
    let (status, body) = get_json(&service, "/readyz?exclude=nope");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The time is the wall clock's: check its shape, then compare the rest exactly.
    let start = body.find(r#""time":""#).unwrap() + 8;
    let time = &body[start..start + 24];
    assert!(
        time.starts_with("20") && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    let body = body.replace(time, "T");
    assert_eq!(
        body,
        r#"{"status":"fail","checks":{"db":[{"componentType":"datastore","status":"pass","time":"T","observedValue":4.5,"observedUnit":"ms"}],"queue":[{"componentType":"component","status":"fail","output":"unknown"}],"shutdown":[{"componentType":"system","status":"pass"}]},"notes":["some health checks cannot be excluded: no matches for \"nope\""]}"#
    );
    let (status, body) = get_json(&service, "/livez");
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"pass","checks":{}}"#)
    );
    let (_, one) = get_json(&service, "/readyz/queue");
    assert_eq!(
        one,
        r#"{"status":"fail","checks":{"queue":[{"componentType":"component","status":"fail","output":"unknown"}]}}"#
    );
}

#[test]
fn health_json_shows_named_measurements_as_entries_of_their_own() {
    let mut builder = Registry::builder();
    let db = builder
        .push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))
        .unwrap();
    let service = HealthService::new(builder.build()).details(true);
    db.publish(
        Report::degraded("pool exhausted: 4/4 connections in use")
            .with_observed(0.8, "ms")
            .with_measurement("pool_size", 4.0, "connections")
            .with_measurement("pool_in_use", f64::NAN, "connections"),
    );
    for uri in ["/readyz", "/readyz/db"] {
        let (status, body) = get_json(&service, uri);
        assert_eq!(status, StatusCode::OK, "Degraded warns and passes");
        let start = body.find(r#""time":""#).unwrap() + 8;
        let body = body.replace(&body[start..start + 24], "T");
        // The main entry keeps its reason; each measurement gets the check's status and
        // time; a value JSON cannot carry is left out, as for the main one.
        assert!(
            body.contains(
                r#""db":[{"componentType":"datastore","status":"warn","time":"T","observedValue":0.8,"observedUnit":"ms","output":"pool exhausted: 4/4 connections in use"}],"db:pool_size":[{"componentType":"datastore","status":"warn","time":"T","observedValue":4,"observedUnit":"connections"}],"db:pool_in_use":[{"componentType":"datastore","status":"warn","time":"T"}]"#
            ),
            "{uri}: {body}"
        );
    }
    let (_, verbose) = get(&service, "/readyz?verbose");
    assert!(
        !verbose.contains("pool_size"),
        "verbose text stays the API server's: {verbose}"
    );
}

#[test]
fn ten_thousand_query_parameters_are_answered() {
    let (service, ..) = fixture();
    // Within the URI limit (64 KiB); `serve`'s 8 KiB head limit refuses far less.
    let query: Vec<String> = (0..10_000)
        .map(|i| match i % 10 {
            0 => format!("exclude=x{i}"),
            1 => "%zz".to_owned(),
            _ => "p".to_owned(),
        })
        .collect();
    let (status, body) = get(&service, &format!("/readyz?verbose&{}", query.join("&")));
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("no matches for \"x0\",\"x10\",\"x100\","));
}

#[test]
fn the_service_is_cheap_send_sync_and_clone() {
    fn assert_traits<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
    assert_traits::<HealthService>();
    let (service, ..) = fixture();
    assert!(format!("{service:?}").contains("withheld"));
}

#[cfg(feature = "tower")]
#[test]
fn tower_service_answers_the_same() {
    let (mut service, ..) = fixture();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(tower_service::Service::<Request<()>>::poll_ready(&mut service, &mut cx).is_ready());
    let response = tower_service::Service::call(&mut service, request(Method::GET, "/livez"))
        .into_inner()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Asserts that every way of asking for `probe` (plain, `?verbose`, health+json, with and
/// without `exclude`) gives health-core's verdict, and returns it.
fn one_verdict(service: &HealthService, endpoint: &str, exclude: &str) -> bool {
    let registry = service.registry();
    let probe = match endpoint {
        "livez" | "healthz" => health_core::Probe::Liveness,
        "readyz" => health_core::Probe::Readiness,
        _ => health_core::Probe::Startup,
    };
    let now = registry.now();
    let core = if exclude.is_empty() {
        registry.probe_at(probe, now)
    } else {
        registry.probe_excluding(probe, now, |name| name == exclude)
    };
    let query = if exclude.is_empty() {
        String::new()
    } else {
        format!("exclude={exclude}")
    };
    let (plain, _) = get(service, &format!("/{endpoint}?{query}"));
    let (verbose, text) = get(service, &format!("/{endpoint}?verbose&{query}"));
    let (json, body) = get_json(service, &format!("/{endpoint}?{query}"));
    let word = if core.is_passing() {
        "passed"
    } else {
        "failed"
    };
    let context = format!("/{endpoint}?{query}: core {core:?}\n{text}{body}");
    let expected = if core.is_passing() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    assert_eq!([plain, verbose, json], [expected; 3], "{context}");
    assert!(
        text.ends_with(&format!("{endpoint} check {word}\n")),
        "{context}"
    );
    assert!(
        body.starts_with(&format!("{{\"status\":\"{}\"", core.as_str())),
        "{context}"
    );
    core.is_passing()
}

/// The plain answer, `?verbose` and health+json take their verdict from one read, so
/// they agree in every state where a fold of the lines could drift from it: before and
/// after the startup latch, with a stale result and a silent heartbeat, with exclusions,
/// non-critical failures and while draining.
#[test]
fn plain_verbose_and_json_share_one_verdict_in_every_state() {
    use std::time::Duration;

    use health_core::{Heartbeat, ManualClock, RegistryBuilder};

    let time = ManualClock::new();
    let gate = StartupGate::new();
    let worker = Heartbeat::with_clock(&time.clock());
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder
        .gate(CheckSpec::new("warmup").startup(), &gate)
        .unwrap();
    let db = builder
        .push(
            CheckSpec::new("db")
                .readiness()
                .startup()
                .max_age(Duration::from_secs(10)),
        )
        .unwrap();
    let cache = builder
        .push(CheckSpec::new("cache").readiness().critical(false))
        .unwrap();
    builder
        .heartbeat(
            CheckSpec::new("worker")
                .liveness()
                .max_age(Duration::from_secs(5)),
            &worker,
        )
        .unwrap();
    let service = HealthService::new(builder.build()).details(true);
    let endpoints = ["livez", "healthz", "readyz", "startupz"];
    // Index: endpoint × exclusion, so livez 0..6, healthz 6..12, readyz 12..18,
    // startupz 18..24; each row starts without an exclusion.
    let verdicts = |label: &str| -> Vec<bool> {
        let mut verdicts = Vec::new();
        for endpoint in endpoints {
            for exclude in ["", "db", "cache", "warmup", "worker", "nope"] {
                verdicts.push(one_verdict(&service, endpoint, exclude));
            }
        }
        assert_eq!(verdicts.len(), 24, "{label}");
        verdicts
    };

    // Starting: the gate is closed, nothing reported.
    let starting = verdicts("starting");
    assert!(!starting[12], "readiness fails before the latch");
    assert!(
        !starting[13] && !starting[18],
        "no exclusion of db starts the service while the gate is closed"
    );
    gate.done();
    db.healthy();
    cache.unhealthy("evicted");
    worker.beat();
    let serving = verdicts("serving");
    assert!(serving[12], "started, every critical member passes");
    // Stale: db's result and the heartbeat outlive their limits. Startup stays latched.
    time.advance(Duration::from_secs(11));
    let stale = verdicts("stale");
    assert!(
        !stale[0] && !stale[12],
        "a stale result and a silent heartbeat fail"
    );
    assert!(stale[13], "excluding the stale db passes readiness");
    assert!(
        stale[18],
        "startup latched: its stale member no longer matters"
    );
    db.healthy();
    worker.beat();
    service.registry().begin_shutdown();
    let draining = verdicts("draining");
    assert!(draining[0], "liveness is not gated by the drain");
    assert!(
        draining[12..18].iter().all(|passing| !passing),
        "no exclusion passes readiness while draining"
    );
}
