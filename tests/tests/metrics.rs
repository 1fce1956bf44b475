//! End to end: the example's `/metrics` on its probe port shows every family, and its
//! figures move as the admin routes break and repair things.
//!
//! The example's dependency check runs every 2 s with a 500 ms timeout and a success
//! threshold of 2; its worker heartbeat allows 5 s of silence. Each limit below is that
//! budget plus slack for a loaded CI machine.

// The values compared are counts and 0/1 gauges, exact in any float.
#![allow(clippy::float_cmp)]

use std::collections::BTreeMap;

use health_tests::{INTERVAL, SLACK, Service, TIMEOUT, WORKER_MAX_SILENCE, within};

/// One scrape: each sample line's series (`name{labels}`) → value, and the name of the
/// dependency's check (`dependency`, or `dependency.0` with one check per dependency).
struct Scrape(BTreeMap<String, f64>, String);

impl Scrape {
    async fn of(service: &Service) -> Scrape {
        let answer = service.get("/metrics").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);
        let samples = answer
            .body
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("`series value`");
                let value = value.parse().unwrap_or_else(|_| panic!("{line}"));
                (series.to_owned(), value)
            })
            .collect::<BTreeMap<_, _>>();
        // The one scheduled check is the dependency's: the only one with a timeout.
        let dependency = samples
            .keys()
            .find_map(|series| {
                let check = series.strip_prefix(r#"health_check_timeout_seconds{check=""#)?;
                Some(check.strip_suffix(r#""}"#)?.to_owned())
            })
            .expect("the dependency check is scheduled");
        Scrape(samples, dependency)
    }

    /// The value of `series`, written as exposed: `name{label="value",…}`.
    fn get(&self, series: &str) -> f64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {:#?}", self.0.keys()))
    }

    fn runs(&self, result: &str) -> f64 {
        let check = &self.1;
        self.get(&format!(
            r#"health_check_runs_total{{check="{check}",result="{result}"}}"#
        ))
    }

    fn status(&self, check: &str, state: &str) -> f64 {
        self.get(&format!(
            r#"health_check_status{{check="{check}",state="{state}"}}"#
        ))
    }

    fn transitions(&self, from: &str, to: &str) -> f64 {
        let check = &self.1;
        self.get(&format!(
            r#"health_check_transitions_total{{check="{check}",from="{from}",to="{to}"}}"#
        ))
    }

    fn dependency(&self, family: &str) -> f64 {
        self.get(&format!(r#"{family}{{check="{}"}}"#, self.1))
    }

    fn probe(&self, probe: &str) -> f64 {
        self.get(&format!(r#"health_probe_status{{probe="{probe}"}}"#))
    }

    fn consecutive_failures(&self) -> f64 {
        self.dependency("health_check_consecutive_failures")
    }

    /// The families present, by their sample names' stems.
    fn families(&self) -> Vec<&str> {
        let mut families: Vec<_> = self
            .0
            .keys()
            .map(|series| {
                let name = series.split('{').next().unwrap_or(series);
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
            })
            .collect();
        families.dedup();
        families
    }
}

#[tokio::test]
async fn metrics_show_every_family_and_follow_the_admin_routes() {
    let service = Service::start(&["--warmup", "0s"]).await;
    service.ready().await;

    let start = Scrape::of(&service).await;
    assert_eq!(
        start.families(),
        [
            "health_check_consecutive_failures",
            "health_check_duration_seconds",
            "health_check_last_run_timestamp_seconds",
            "health_check_runs_total",
            "health_check_status",
            "health_check_timeout_seconds",
            "health_check_transitions_total",
            "health_probe_status",
        ]
    );
    assert!(start.runs("healthy") >= 1.0);
    assert_eq!(start.status(&start.1, "healthy"), 1.0);
    assert_eq!(start.transitions("unknown", "healthy"), 1.0);
    assert_eq!(start.probe("readiness"), 1.0);
    assert_eq!(
        start.dependency("health_check_timeout_seconds"),
        TIMEOUT.as_secs_f64()
    );
    let count = "health_check_duration_seconds_count";
    assert!(start.dependency(count) >= 1.0, "each run has a duration");
    assert!(start.dependency("health_check_last_run_timestamp_seconds") > 1.0e9);

    service.admin("/dependency/down").await;
    within(
        INTERVAL + TIMEOUT + SLACK,
        "a failed run counted",
        || async {
            let now = Scrape::of(&service).await;
            now.runs("unhealthy") >= 1.0
                && now.status(&now.1, "unhealthy") == 1.0
                && now.transitions("healthy", "unhealthy") == 1.0
                && now.consecutive_failures() >= 1.0
                && now.probe("readiness") == 0.0
        },
    )
    .await;
    assert_eq!(
        Scrape::of(&service).await.probe("liveness"),
        1.0,
        "a dependency outage reached liveness"
    );

    service.admin("/dependency/hang").await;
    within(
        INTERVAL + TIMEOUT + SLACK,
        "a timed-out run counted apart",
        || async { Scrape::of(&service).await.runs("timeout") >= 1.0 },
    )
    .await;
    let hung = Scrape::of(&service).await;
    assert!(
        hung.consecutive_failures() >= 2.0,
        "the failure and the timeout in a row"
    );
    assert_eq!(
        hung.transitions("healthy", "unhealthy"),
        1.0,
        "failing on is not another transition"
    );

    service.admin("/dependency/up").await;
    // Two consecutive passes (success_threshold = 2) bring it back.
    within(2 * INTERVAL + TIMEOUT + SLACK, "it recovers", || async {
        let now = Scrape::of(&service).await;
        now.transitions("unhealthy", "healthy") == 1.0
            && now.status(&now.1, "healthy") == 1.0
            && now.consecutive_failures() == 0.0
            && now.probe("readiness") == 1.0
    })
    .await;

    service.admin("/worker/stall").await;
    within(WORKER_MAX_SILENCE + 2 * SLACK, "liveness fails", || async {
        let now = Scrape::of(&service).await;
        now.probe("liveness") == 0.0 && now.status("worker", "unhealthy") == 1.0
    })
    .await;
    let end = Scrape::of(&service).await;
    assert!(end.runs("healthy") > start.runs("healthy"));
    assert!(end.dependency(count) > start.dependency(count));
}
