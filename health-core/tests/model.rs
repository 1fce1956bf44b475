//! Random operation sequences against a plain sequential model of the semantics.

// Built without loom: these use std threads, proptest and real time.
#![cfg(not(loom))]

use std::time::Duration;

use health_core::{
    CheckHandle, CheckSpec, Heartbeat, ManualClock, Outcome, Probe, Probes, RegistryBuilder,
    StartupGate, Status,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct CheckDef {
    probes: Probes,
    critical: bool,
    max_age: Option<u64>,
}

#[derive(Clone, Debug)]
enum Op {
    Publish(usize, Status),
    Advance(u64),
    Beat,
    OpenGate,
    BeginShutdown,
}

fn probes() -> impl Strategy<Value = Probes> {
    (1u8..8).prop_map(|bits| {
        Probe::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .fold(Probes::EMPTY, |set, (_, probe)| set.with(probe))
    })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Healthy),
        Just(Status::Degraded),
        Just(Status::Unhealthy)
    ]
}

fn check_def() -> impl Strategy<Value = CheckDef> {
    (probes(), any::<bool>(), prop::option::of(1u64..20)).prop_map(|(probes, critical, max_age)| {
        CheckDef {
            probes,
            critical,
            max_age,
        }
    })
}

fn op(checks: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..checks, status()).prop_map(|(i, s)| Op::Publish(i, s)),
        2 => (0u64..8).prop_map(Op::Advance),
        1 => Just(Op::Beat),
        1 => Just(Op::OpenGate),
        1 => Just(Op::BeginShutdown),
    ]
}

/// The plain model: statuses, stamps, and flags, folded on every read.
struct Model {
    defs: Vec<CheckDef>,
    status: Vec<Status>,
    stamp: Vec<u64>,
    now: u64,
    beat: u64,
    gate_open: bool,
    started: bool,
    draining: bool,
}

const HEARTBEAT_SILENCE: u64 = 10;

impl Model {
    fn member_outcome(&self, i: usize, probe: Probe) -> Outcome {
        let def = &self.defs[i];
        let stale = def
            .max_age
            .is_some_and(|max| self.now - self.stamp[i] > max);
        let status = if stale {
            Status::Unhealthy
        } else {
            self.status[i]
        };
        Outcome::of(status, def.critical, probe)
    }

    fn members(&self, probe: Probe) -> Outcome {
        let mut outcome = (0..self.defs.len())
            .filter(|&i| self.defs[i].probes.contains(probe))
            .map(|i| self.member_outcome(i, probe))
            .fold(Outcome::Pass, Outcome::max);
        // The heartbeat is on liveness, the gate on startup; both critical.
        if probe == Probe::Liveness && self.now - self.beat > HEARTBEAT_SILENCE {
            outcome = Outcome::Fail;
        }
        if probe == Probe::Startup && !self.gate_open {
            outcome = Outcome::Fail;
        }
        outcome
    }

    fn probe(&mut self, probe: Probe) -> Outcome {
        match probe {
            Probe::Liveness => self.members(Probe::Liveness),
            Probe::Startup => {
                // Latched: passes from the moment its members first pass, for good.
                if !self.started && self.members(Probe::Startup).is_passing() {
                    self.started = true;
                }
                if self.started {
                    Outcome::Pass
                } else {
                    Outcome::Fail
                }
            }
            Probe::Readiness => {
                if self.draining {
                    return Outcome::Fail;
                }
                if !self.started {
                    if self.members(Probe::Startup).is_passing() {
                        self.started = true;
                    } else {
                        return Outcome::Fail;
                    }
                }
                self.members(Probe::Readiness)
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn registry_matches_the_model(
        defs in prop::collection::vec(check_def(), 1..6),
        ops in prop::collection::vec(op(6), 1..60),
    ) {
        let time = ManualClock::new();
        let worker = Heartbeat::with_clock(&time.clock());
        let gate = StartupGate::new();
        let mut builder = RegistryBuilder::with_clock(time.clock());
        let handles: Vec<CheckHandle> = defs
            .iter()
            .enumerate()
            .map(|(i, def)| {
                let mut spec = CheckSpec::new(format!("c{i}")).critical(def.critical);
                for probe in def.probes.iter() {
                    spec = spec.probe(probe);
                }
                if let Some(max) = def.max_age {
                    spec = spec.max_age(Duration::from_secs(max));
                }
                builder.push(spec).unwrap()
            })
            .collect();
        builder
            .heartbeat(CheckSpec::new("worker").liveness().max_age(Duration::from_secs(HEARTBEAT_SILENCE)), &worker)
            .unwrap();
        builder.gate(CheckSpec::new("gate").startup(), &gate).unwrap();
        let registry = builder.build();
        let mut model = Model {
            status: vec![Status::Unknown; defs.len()],
            stamp: vec![0; defs.len()],
            defs,
            now: 0,
            beat: 0,
            gate_open: false,
            started: false,
            draining: false,
        };

        for op in ops {
            match op {
                Op::Publish(i, status) => {
                    let i = i % handles.len();
                    match status {
                        Status::Healthy => handles[i].healthy(),
                        Status::Degraded => handles[i].degraded("d"),
                        _ => handles[i].unhealthy("u"),
                    }
                    model.status[i] = status;
                    model.stamp[i] = model.now;
                }
                Op::Advance(secs) => {
                    time.advance(Duration::from_secs(secs));
                    model.now += secs;
                }
                Op::Beat => {
                    worker.beat();
                    model.beat = model.now;
                }
                Op::OpenGate => {
                    gate.done();
                    model.gate_open = true;
                }
                Op::BeginShutdown => {
                    registry.begin_shutdown();
                    model.draining = true;
                }
            }
            for probe in Probe::ALL {
                let expected = model.probe(probe);
                prop_assert_eq!(registry.probe(probe), expected, "probe {:?}", probe);
            }
            let now = registry.now();
            for probe in [Probe::Liveness, Probe::Readiness] {
                prop_assert_eq!(
                    registry.probe_excluding(probe, now, |_| false),
                    registry.probe(probe),
                    "the O(1) read and the scan agree on {:?}", probe
                );
            }
        }
    }
}
