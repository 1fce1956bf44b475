//! Built-in evaluated checks: TCP connect and queue lag. Feature `runtime`.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

use crate::check::Check;
use crate::clock::format_duration;
use crate::heartbeat::Heartbeat;
use crate::report::Report;
use crate::runtime::Resolver;
use crate::spec::CheckKind;

/// Connects to `host:port` (resolved on every run, so DNS changes are followed) and
/// closes the connection: Healthy with the connect time in ms, or Unhealthy with the error.
///
/// The name is resolved by the check's [`Resolver`] (the system's by default): on a
/// thread of its own, within the run's timeout, one lookup at a time, so a DNS outage
/// cannot pile up stuck lookups. An IP address is not looked up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, Registry, Schedule, TcpCheck};
///
/// let mut builder = Registry::builder();
/// builder.schedule(
///     CheckSpec::new("postgres").readiness(),
///     Schedule::every(Duration::from_secs(5)),
///     TcpCheck::new("127.0.0.1:5432"),
/// )?;
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TcpCheck {
    address: String,
    resolver: Resolver,
}

impl TcpCheck {
    /// Creates a check of `address`: `host:port`, `ip:port` or `[ipv6]:port`. An address
    /// without a port reads Unhealthy on every run.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = health_core::TcpCheck::new("db.internal:5432");
    /// assert_eq!(check.address(), "db.internal:5432");
    /// ```
    #[must_use]
    pub fn new(address: impl Into<String>) -> TcpCheck {
        TcpCheck {
            address: address.into(),
            resolver: Resolver::system(),
        }
    }

    /// Sets the resolver of the host name (default: [`Resolver::system`]).
    ///
    /// # Examples
    ///
    /// See [`Resolver`].
    #[must_use]
    pub fn resolver(mut self, resolver: Resolver) -> TcpCheck {
        self.resolver = resolver;
        self
    }

    /// Returns the address.
    ///
    /// # Examples
    ///
    /// See [`TcpCheck::new`].
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    async fn connect(&self) -> io::Result<()> {
        let (host, port) = self
            .address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .filter(|(host, _)| !host.is_empty())
            .ok_or_else(|| io::Error::other("expected host:port"))?;
        self.resolver.connect(host, port).await.map(drop)
    }
}

impl Check for TcpCheck {
    const KIND: CheckKind = CheckKind::Dependency;

    async fn check(&self) -> Report {
        let started = Instant::now();
        match self.connect().await {
            Ok(()) => {
                Report::healthy().with_observed(started.elapsed().as_secs_f64() * 1_000.0, "ms")
            }
            Err(err) => Report::unhealthy(format!("connect to {}: {err}", self.address)),
        }
    }
}

/// Queue lag: the silence of a [`Heartbeat`] beaten after each processed item, i.e.
/// now − last processed, with a Degraded and an Unhealthy bound.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{Check, Heartbeat, LagCheck, ManualClock, Status};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let time = ManualClock::new();
/// let processed = Heartbeat::with_clock(&time.clock());
/// let lag = LagCheck::new(processed.clone(), Duration::from_secs(5), Duration::from_secs(30));
/// time.advance(Duration::from_secs(6));
/// let report = lag.check().await;
/// assert_eq!(report.status(), Status::Degraded);
/// assert_eq!(report.observed().unwrap().value(), 6.0);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LagCheck {
    heartbeat: Heartbeat,
    degraded_after: Duration,
    unhealthy_after: Duration,
}

impl LagCheck {
    /// Creates a lag check: Degraded past `degraded_after`, Unhealthy past
    /// `unhealthy_after`.
    ///
    /// # Examples
    ///
    /// See [`LagCheck`].
    #[must_use]
    pub fn new(
        heartbeat: Heartbeat,
        degraded_after: Duration,
        unhealthy_after: Duration,
    ) -> LagCheck {
        LagCheck {
            heartbeat,
            degraded_after,
            unhealthy_after,
        }
    }
}

impl Check for LagCheck {
    async fn check(&self) -> Report {
        let lag = self.heartbeat.silence();
        let report = if lag > self.unhealthy_after {
            Report::unhealthy(format!(
                "lag {} over {}",
                format_duration(lag),
                format_duration(self.unhealthy_after)
            ))
        } else if lag > self.degraded_after {
            Report::degraded(format!(
                "lag {} over {}",
                format_duration(lag),
                format_duration(self.degraded_after)
            ))
        } else {
            Report::healthy()
        };
        report.with_observed(lag.as_secs_f64(), "s")
    }
}
