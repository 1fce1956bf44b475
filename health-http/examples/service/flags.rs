//! The command line: flags, durations, addresses and dependency URLs, each checked.

use std::time::Duration;

use health_core::TcpCheck;
use health_http::HttpCheck;

use crate::Dependency;

pub(crate) const HELP: &str = "\
The health example service: /livez, /readyz and /startupz for a realistic AppState.

USAGE:
    service [OPTIONS]

OPTIONS:
    --addr HOST:PORT          where probes are served [default: 127.0.0.1:8080]
    --admin-addr HOST:PORT    the admin port that breaks things on purpose [default: 127.0.0.1:8081]
    --dependency URL          a dependency to check on readiness, tcp://HOST:PORT or
                              http://HOST:PORT/PATH; repeatable; replaces the embedded one
    --postgres URL            a PostgreSQL readiness check on a pool of 4 connections,
                              postgres://USER[:PASSWORD]@HOST:PORT/DATABASE
    --drain DURATION          how long readiness fails before the server stops accepting,
                              after SIGTERM or Ctrl-C [default: 5s]
    --details-token TOKEN     show failure reasons (?verbose, health+json) to requests
                              carrying the header X-Health-Token: TOKEN
    --details                 show failure reasons to everyone (local runs only: reasons
                              are dependencies' error strings)
    --warmup DURATION         the simulated start-up time [default: 3s]
    -h, --help                print this help

DURATIONS are integers with a unit: 500ms, 5s, 1m.

ADMIN ROUTES (GET or POST on --admin-addr):
    /dependency/down          the embedded dependency refuses connections
    /dependency/hang          it accepts and never answers (the check times out)
    /dependency/up            it answers 200 again
    /worker/stall             the worker loop stops beating (liveness fails after 5s)
    /worker/resume            it beats again
    /runner/stop              the background checker dies (readiness fails as stale)
    /runtime/block?secs=N     every worker of the application's runtime blocks for N s
                              (default 5): probes still answer, liveness fails after 2s
                              (runtime stalled) and recovers when the block ends
    /postgres/hold            take every connection of the --postgres pool (Degraded)
    /postgres/release         give them back

EXIT STATUS: 0 after a graceful shutdown, 2 on a bad flag, 1 on another error.
";

pub(crate) struct Options {
    pub(crate) addr: String,
    pub(crate) admin_addr: String,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) drain: Duration,
    pub(crate) warmup: Duration,
    pub(crate) details: Details,
    pub(crate) postgres: Option<sqlx::postgres::PgConnectOptions>,
}

/// Who sees failure reasons.
pub(crate) enum Details {
    Withheld,
    Everyone,
    /// Requests whose `X-Health-Token` header is this token.
    Token(String),
}

/// Parses the flags; `Ok(None)` means `--help` was printed.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
) -> Result<Option<Options>, String> {
    let mut options = Options {
        addr: "127.0.0.1:8080".into(),
        admin_addr: "127.0.0.1:8081".into(),
        dependencies: Vec::new(),
        drain: Duration::from_secs(5),
        warmup: Duration::from_secs(3),
        details: Details::Withheld,
        postgres: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--details" {
            options.details = Details::Everyone;
            continue;
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag.clone(), None),
        };
        if !matches!(
            name.as_str(),
            "--addr"
                | "--admin-addr"
                | "--dependency"
                | "--drain"
                | "--warmup"
                | "--details-token"
                | "--postgres"
        ) {
            return Err(format!("unknown flag {flag:?} (see --help)"));
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{name} needs a value (see --help)"))?;
        match name.as_str() {
            "--addr" => options.addr = parse_host_port(&name, &value)?,
            "--admin-addr" => options.admin_addr = parse_host_port(&name, &value)?,
            "--dependency" => options.dependencies.push(parse_dependency(&value)?),
            "--drain" => options.drain = parse_duration(&name, &value)?,
            "--details-token" if value.is_empty() => {
                return Err(format!("{name} needs a non-empty token"));
            }
            "--details-token" => options.details = Details::Token(value),
            "--postgres" => options.postgres = Some(crate::postgres::parse_url(&value)?),
            _ => options.warmup = parse_duration(&name, &value)?,
        }
    }
    Ok(Some(options))
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

fn parse_host_port(flag: &str, text: &str) -> Result<String, String> {
    if is_host_port(text) {
        Ok(text.to_owned())
    } else {
        Err(format!("{flag} {text:?}: expected HOST:PORT"))
    }
}

pub(crate) fn parse_dependency(url: &str) -> Result<Dependency, String> {
    if let Some(address) = url.strip_prefix("tcp://") {
        if !is_host_port(address) {
            return Err(format!("--dependency {url:?}: expected tcp://HOST:PORT"));
        }
        return Ok(Dependency::Tcp(TcpCheck::new(address)));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|err| format!("--dependency {url:?}: {err}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(format!(
            "--dependency {url:?}: expected tcp://HOST:PORT or http://HOST:PORT/PATH"
        ));
    }
    Ok(Dependency::Http(
        HttpCheck::new(uri).timeout(Duration::from_millis(400)),
    ))
}

fn parse_duration(flag: &str, text: &str) -> Result<Duration, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{flag} {text:?}: expected an integer with a unit, like 5s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("{flag} {text:?}: the unit must be ms, s or m")),
    }
}
