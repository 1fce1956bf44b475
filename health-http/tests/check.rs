//! `HttpCheck`: credentials in its URL stay secret, and name lookups are bounded and never
//! doubled. (Its answers to real servers are in `http.rs`.)

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use common::recording;
use health_core::{Check, Resolver, Status};
use health_http::HttpCheck;
use http::{StatusCode, Uri};
use tokio::net::TcpListener;

const SECRET: &str = "s3cret";

fn with_credentials(addr: SocketAddr, path: &str) -> HttpCheck {
    let uri: Uri = format!("http://monitor:{SECRET}@{addr}{path}")
        .parse()
        .unwrap();
    HttpCheck::new(uri).timeout(Duration::from_secs(10))
}

fn assert_secret_free(text: &str) {
    assert!(!text.contains(SECRET), "the password leaked: {text}");
    assert!(!text.contains("monitor:"), "the credentials leaked: {text}");
}

#[tokio::test]
async fn credentials_go_in_authorization_and_nowhere_else() {
    let (addr, seen) = recording(StatusCode::SERVICE_UNAVAILABLE).await;
    let check = with_credentials(addr, "/readyz?verbose");
    assert_secret_free(&format!("{check:?}"));

    let report = check.check().await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.reason(),
        Some(format!("GET http://{addr}/readyz?verbose: 503 Service Unavailable").as_str())
    );
    let headers = seen
        .lock()
        .unwrap()
        .pop()
        .expect("the server got the request");
    assert_eq!(headers[http::header::HOST], addr.to_string().as_str());
    // base64("monitor:s3cret")
    assert_eq!(
        headers[http::header::AUTHORIZATION],
        "Basic bW9uaXRvcjpzM2NyZXQ="
    );

    let (ok, _) = recording(StatusCode::OK).await;
    let report = with_credentials(ok, "/").check().await;
    assert_eq!(report.status(), Status::Healthy);
    assert_secret_free(&format!("{report:?}"));
}

#[tokio::test]
async fn failure_reasons_never_show_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = listener.local_addr().unwrap();
    drop(listener);
    let report = with_credentials(refused, "/").check().await;
    let reason = report.reason().unwrap();
    assert!(
        reason.starts_with(&format!("connect to {refused}: ")),
        "{reason}"
    );
    assert_secret_free(reason);

    let https: Uri = format!("https://monitor:{SECRET}@billing.internal/readyz")
        .parse()
        .unwrap();
    let report = HttpCheck::new(https).check().await;
    assert_eq!(
        report.reason(),
        Some("unsupported URL https://billing.internal/readyz (only http:// is supported)")
    );

    let named: Uri = format!("http://monitor:{SECRET}@billing.internal:8080/")
        .parse()
        .unwrap();
    let report = HttpCheck::new(named)
        .resolver(Resolver::from_fn(|host, _| {
            Err(io::Error::other(format!("no such host {host}")))
        }))
        .check()
        .await;
    assert_eq!(
        report.reason(),
        Some("connect to billing.internal:8080: no such host billing.internal")
    );
}

/// What a lookup returns.
type Found = io::Result<Vec<SocketAddr>>;

/// A resolver whose lookups block until the test answers them, a line on which each
/// lookup reports its host and port as it starts, and the answer line.
fn hanging() -> (Resolver, mpsc::Receiver<(String, u16)>, mpsc::Sender<Found>) {
    let (asked, lookups) = mpsc::channel();
    let (answer, answers) = mpsc::channel();
    let answers = Mutex::new(answers);
    let resolver = Resolver::from_fn(move |host, port| {
        asked.send((host.to_owned(), port)).unwrap();
        answers
            .lock()
            .unwrap()
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the test ended")))
    });
    (resolver, lookups, answer)
}

/// DNS hangs: the check's timeout bounds the run, and the next run starts no second
/// lookup. Paused time: the timeout passes without waiting for it.
#[tokio::test(start_paused = true)]
async fn a_hung_lookup_is_bounded_by_the_timeout_and_never_doubled() {
    let (resolver, lookups, answer) = hanging();
    let uri: Uri = format!("http://monitor:{SECRET}@billing.internal:8080/readyz")
        .parse()
        .unwrap();
    let check = HttpCheck::new(uri).resolver(resolver);

    let report = check.check().await;
    assert_eq!(report.reason(), Some("timed out after 1s"));
    assert_eq!(
        lookups.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("billing.internal".to_owned(), 8080),
        "the lookup gets the host alone, never the credentials"
    );

    let report = check.check().await;
    assert_eq!(
        report.reason(),
        Some("connect to billing.internal:8080: name lookup still in flight after 1s")
    );
    assert!(
        lookups.try_recv().is_err(),
        "a second lookup started while the first hangs"
    );
    drop(answer);
}
