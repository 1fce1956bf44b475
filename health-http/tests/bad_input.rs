//! Malformed traffic against `serve`: every kind gets a 4xx or a closed connection, never
//! a 5xx or a panic, and afterwards `/livez` still answers.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{Reaction, blocking, connect, get, is_closed, react, registry_with_db, start};

/// One kind of bad traffic and what the server must make of it.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Half-close after sending, for inputs the server would otherwise wait to complete.
    then_eof: bool,
    /// `None`: any 4xx or a closed connection will do.
    expect: Option<Reaction>,
}

fn case(name: &'static str, bytes: impl Into<Vec<u8>>, expect: Option<Reaction>) -> Case {
    Case {
        name,
        bytes: bytes.into(),
        then_eof: false,
        expect,
    }
}

fn with_eof(mut case: Case) -> Case {
    case.then_eof = true;
    case
}

#[allow(clippy::too_many_lines, reason = "one table of cases")]
fn cases() -> Vec<Case> {
    use Reaction::{Closed, Status};
    let huge_header = format!(
        "GET /livez HTTP/1.1\r\nHost: p\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let many_headers = format!(
        "GET /livez HTTP/1.1\r\nHost: p\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<Vec<_>>()
            .concat()
    );
    let long_uri = format!(
        "GET /livez?{} HTTP/1.1\r\nHost: p\r\n\r\n",
        "a".repeat(100_000)
    );
    let many_params = format!(
        "GET /readyz?verbose&{} HTTP/1.1\r\nHost: p\r\n\r\n",
        (0..10_000)
            .map(|i| format!("exclude=c{i}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let garbage: Vec<u8> = (0..512u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .chain(*b"\r\n\r\n")
        .collect();
    vec![
        case("garbage bytes", garbage, Some(Status(400))),
        with_eof(case(
            "a TLS ClientHello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            None,
        )),
        case(
            "an HTTP/2 preface",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            None,
        ),
        with_eof(case("only empty lines", "\r\n\r\n\r\n", Some(Closed))),
        case(
            "a method with invalid characters",
            "G@T /livez HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "an unknown method",
            "BREW /livez HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(405)),
        ),
        case(
            "a lower-case method",
            "get /livez HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(405)),
        ),
        case(
            "an unknown HTTP version",
            "GET /livez HTTP/9.9\r\nHost: p\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "an HTTP/0.9 request line",
            "GET /livez\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "a NUL byte in the path",
            "GET /liv\0ez HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "a NUL byte in a header",
            "GET /livez HTTP/1.1\r\nHost: p\r\nX: a\0b\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "non-UTF-8 bytes in the path",
            b"GET /\xff\xfe HTTP/1.1\r\nHost: p\r\n\r\n".to_vec(),
            Some(Status(400)),
        ),
        case(
            "a header line without a colon",
            "GET /livez HTTP/1.1\r\nHost p\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "a space before a header colon",
            "GET /livez HTTP/1.1\r\nHost : p\r\n\r\n",
            Some(Status(400)),
        ),
        case(
            "an obsolete folded header",
            "GET /livez HTTP/1.1\r\nHost: p\r\nX: a\r\n  b\r\n\r\n",
            None,
        ),
        case(
            "a control character in Host",
            "GET /livez HTTP/1.1\r\nHost: \x01\r\n\r\n",
            Some(Status(400)),
        ),
        case("a 100 KB header", huge_header, Some(Status(431))),
        case("200 headers", many_headers, Some(Status(431))),
        case("a 100 KB URI", long_uri, Some(Status(431))),
        case("10,000 query parameters", many_params, Some(Status(431))),
        case(
            "bad percent-encoding",
            "GET /readyz?verbose&exclude=%zz%&%%=%4 HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(200)),
        ),
        case(
            "path traversal",
            "GET /readyz/../../etc/passwd HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(404)),
        ),
        case(
            "encoded path traversal",
            "GET /readyz/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(404)),
        ),
        case(
            "two different Content-Lengths",
            "GET /livez HTTP/1.1\r\nHost: p\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            Some(Status(400)),
        ),
        case(
            "Content-Length with chunked (smuggling)",
            "POST /livez HTTP/1.1\r\nHost: p\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            None,
        ),
        with_eof(case(
            "a broken chunked body",
            "POST /livez HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
            None,
        )),
        case(
            "a huge body announced with Expect: 100-continue",
            "POST /readyz HTTP/1.1\r\nHost: p\r\nContent-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n",
            Some(Status(405)),
        ),
        case(
            "CONNECT",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            None,
        ),
        case(
            "OPTIONS *",
            "OPTIONS * HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(404)),
        ),
        case(
            "an absolute-form URI",
            "GET http://elsewhere/livez HTTP/1.1\r\nHost: p\r\n\r\n",
            Some(Status(200)),
        ),
        with_eof(case("a connection closed at once", "", Some(Closed))),
        with_eof(case(
            "a head cut off mid-line",
            "GET /livez HTTP/1.1\r\nHo",
            Some(Closed),
        )),
    ]
}

#[tokio::test(start_paused = true)]
async fn malformed_traffic_gets_4xx_or_a_close_and_the_server_keeps_answering() {
    let (registry, _db) = registry_with_db();
    let header_timeout = Duration::from_secs(5);
    let server = start(registry, |serve| serve.header_read_timeout(header_timeout)).await;
    let addr = server.addr;

    let cases = cases();
    assert!(cases.len() >= 20);
    let reactions = blocking(move || {
        cases
            .into_iter()
            .map(|case| {
                let reaction = react(addr, &case.bytes, case.then_eof);
                (case.name, case.expect, reaction)
            })
            .collect::<Vec<_>>()
    })
    .await;
    let mut wrong = Vec::new();
    for (name, expect, reaction) in reactions {
        eprintln!("{name}: {reaction:?}");
        let acceptable = match (&expect, &reaction) {
            (Some(expect), reaction) => expect == reaction,
            (None, Reaction::Status(code)) => (400..500).contains(code),
            (None, Reaction::Closed) => true,
        };
        if !acceptable {
            wrong.push(format!("{name}: expected {expect:?}, got {reaction:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Slowloris: a head sent a byte at a time, never finished, is cut off.
    let slow = blocking(move || {
        let mut stream = connect(addr);
        for byte in b"GET /livez HTTP/1.1\r\nHost: p\r\nX-Slow: a" {
            stream.write_all(&[*byte]).unwrap();
        }
        stream
    })
    .await;
    tokio::time::sleep(header_timeout + Duration::from_secs(1)).await;
    assert!(blocking(move || is_closed(&mut { slow })).await);

    assert!(!server.task.is_finished(), "the server survived");
    let live = blocking(move || get(addr, "/livez")).await;
    assert_eq!((live.status, live.body.as_str()), (200, "ok"));
}
