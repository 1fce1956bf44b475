//! `#[health(crate = path)]`: every path the derive generates goes through it.
//!
//! `::health_core` is made to name `std` here, so any generated path that bypassed
//! `crate = ...` would fail to compile.

// `with` takes async fns; the test doubles have nothing to await.
#![allow(clippy::unused_async)]

extern crate health_core as health;
// Shadows the extern prelude: `::health_core::...` now resolves into `std`.
extern crate std as health_core;

use std::sync::Arc;

use health::{HealthCheck, Heartbeat, ManualClock, Outcome, Probe, RegistryBuilder, StartupGate};

/// A crate that re-exports ours, as a framework would.
mod framework {
    pub(crate) use health as probes;
}

#[derive(HealthCheck)]
#[health(crate = framework::probes)]
struct Nested {
    #[health(startup)]
    gate: StartupGate,
}

#[derive(HealthCheck)]
#[health(crate = health, interval = "1s")]
#[health(check(name = "whole", readiness, with = Self::whole))]
struct State {
    #[health(liveness, max_silence = "5s")]
    worker: Heartbeat,
    #[health(readiness, with = ping)]
    url: String,
    #[health(readiness, each, kind = "internal", with = Self::element)]
    shards: Vec<u8>,
    #[health(startup, each)]
    gates: Vec<StartupGate>,
    #[health(flatten)]
    nested: Nested,
}

impl State {
    async fn whole(&self) -> bool {
        !self.url.is_empty()
    }

    async fn element(&self, shard: &u8) -> bool {
        *shard < 10
    }
}

async fn ping(url: &str) -> bool {
    url.starts_with("http://")
}

#[test]
fn every_generated_path_goes_through_crate() {
    let time = ManualClock::new();
    let state = Arc::new(State {
        worker: Heartbeat::with_clock(&time.clock()),
        url: "http://billing".to_owned(),
        shards: vec![1, 2],
        gates: vec![StartupGate::new()],
        nested: Nested {
            gate: StartupGate::new(),
        },
    });
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder.register(&state).unwrap();
    let registry = builder.build();
    let names: Vec<&str> = registry.checks().map(|check| check.name()).collect();
    assert_eq!(
        names,
        [
            "whole",
            "worker",
            "url",
            "shards.0",
            "shards.1",
            "gates.0",
            "nested.gate"
        ]
    );
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    // `health_core` really is `std` here.
    let _: health_core::primitive::u8 = 0;
}
