//! health-core's PostgreSQL checks against a real server: every behaviour once, run for
//! each backend (`sqlx::PgPool` and `deadpool_postgres::Pool`).
//!
//! The server is `DATABASE_URL` (`source scripts/postgres.sh` provides one); each test
//! names its connections with its own `application_name`, so tests share the server
//! without seeing each other. Scenarios that need a server of their own (a password
//! role) start a private cluster.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use health_core::{Check, HealthCheck, Outcome, PgCheck, Probe, Report, Runner, Status};
use health_tests::postgres::{
    self, Cluster, PASSWORD_ROLE, StallingProxy, backends, terminate, with_application_name,
};
use health_tests::within;

/// Far beyond any healthy run on loopback, far below the pools' own waits (sqlx: 30 s;
/// deadpool: none): a run that queued in the pool would hit it.
const NEVER_WAITS: Duration = Duration::from_secs(10);

/// What the tests need of a pool, beyond the check.
trait Backend: Check + Clone + Sized {
    /// A connection the test holds, as the application would.
    type Held: Send + 'static;

    /// A lazy pool of at most `max` connections.
    fn pool(url: &str, max: u32) -> Self;

    fn hold(&self) -> impl Future<Output = Self::Held> + Send;

    /// `PgCheck::new(self).query(sql)`: named here because a generic `PgCheck<P>` is a
    /// check only for the two pool types.
    fn query(self, sql: &'static str) -> impl Check;

    fn size(&self) -> usize;

    fn idle(&self) -> usize;
}

impl Backend for sqlx::PgPool {
    type Held = sqlx::pool::PoolConnection<sqlx::Postgres>;

    fn pool(url: &str, max: u32) -> Self {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(max)
            .connect_lazy(url)
            .expect("a valid URL")
    }

    async fn hold(&self) -> Self::Held {
        self.acquire().await.expect("a connection")
    }

    fn query(self, sql: &'static str) -> impl Check {
        PgCheck::new(self).query(sql)
    }

    fn size(&self) -> usize {
        self.size() as usize
    }

    fn idle(&self) -> usize {
        self.num_idle()
    }
}

impl Backend for deadpool_postgres::Pool {
    type Held = deadpool_postgres::Object;

    fn pool(url: &str, max: u32) -> Self {
        let config = deadpool_postgres::Config {
            url: Some(url.to_owned()),
            pool: Some(deadpool_postgres::PoolConfig::new(max as usize)),
            ..deadpool_postgres::Config::default()
        };
        config
            .create_pool(
                Some(deadpool_postgres::Runtime::Tokio1),
                deadpool_postgres::tokio_postgres::NoTls,
            )
            .expect("a valid URL")
    }

    async fn hold(&self) -> Self::Held {
        self.get().await.expect("a connection")
    }

    fn query(self, sql: &'static str) -> impl Check {
        PgCheck::new(self).query(sql)
    }

    fn size(&self) -> usize {
        self.status().size
    }

    fn idle(&self) -> usize {
        self.status().available
    }
}

fn measured(report: &Report, name: &str) -> Option<f64> {
    report
        .measurements()
        .find(|(measurement, _)| *measurement == name)
        .map(|(_, observed)| observed.value())
}

/// Waits for the pool to have `idle` idle connections: sqlx returns a connection from a
/// task of its own after pinging it.
async fn settle<P: Backend>(pool: &P, idle: usize) {
    within(
        NEVER_WAITS,
        "the connection is back in the pool",
        || async { pool.idle() == idle },
    )
    .await;
}

async fn run<C: Check>(check: &C) -> Report {
    tokio::time::timeout(NEVER_WAITS, check.check())
        .await
        .expect("a check run never waits")
}

async fn healthy_run_opens_then_reuses_one_connection<P: Backend>(test: &str) {
    let Some((admin, url, name)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 3);
    let first = run(&pool).await;
    assert_eq!(first.status(), Status::Healthy, "{first:?}");
    let observed = first.observed().expect("a round trip");
    assert_eq!(observed.unit(), "ms");
    assert!(observed.value() > 0.0, "{observed:?}");
    assert_eq!(
        measured(&first, "pool_size"),
        Some(0.0),
        "read before the run"
    );
    assert_eq!(measured(&first, "pool_max"), Some(3.0));
    settle(&pool, 1).await;
    let opened = backends(&admin, &name).await;
    assert_eq!(opened.len(), 1, "one connection, kept in the pool");

    let second = run(&pool).await;
    assert_eq!(second.status(), Status::Healthy, "{second:?}");
    assert_eq!(
        (
            measured(&second, "pool_size"),
            measured(&second, "pool_idle"),
            measured(&second, "pool_in_use")
        ),
        (Some(1.0), Some(1.0), Some(0.0))
    );
    settle(&pool, 1).await;
    assert_eq!(
        backends(&admin, &name).await,
        opened,
        "the second run reused the pooled connection"
    );
}

#[derive(HealthCheck)]
struct AppState<P: Backend> {
    #[health(readiness, interval = "2s", timeout = "1s")]
    db: P,
}

async fn the_pool_on_a_derived_state_as_it_is<P: Backend>(test: &str) {
    let Some((_, url, _)) = postgres::server(test, "health-test") else {
        return;
    };
    let state = Arc::new(AppState {
        db: P::pool(&url, 2),
    });
    let (registry, _runner) = Runner::spawn(&state).expect("registered");
    within(NEVER_WAITS, "readiness passes", || async {
        registry.probe(Probe::Readiness) == Outcome::Pass
    })
    .await;
}

async fn custom_query_runs_on_the_simple_protocol<P: Backend>(test: &str) {
    let Some((_, url, _)) = postgres::server(test, "health-test") else {
        return;
    };
    // The extended protocol (prepared statements) refuses two statements in one query.
    let check = P::pool(&url, 2).query("SELECT 1; SELECT 2");
    let report = run(&check).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
}

async fn query_error_names_it_and_drops_the_connection<P: Backend>(test: &str) {
    let Some((_, url, _)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 2);
    assert_eq!(run(&pool).await.status(), Status::Healthy);
    settle(&pool, 1).await;
    let report = run(&pool.clone().query("SELECT no_such_column")).await;
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.reason(),
        Some(r#"query failed: column "no_such_column" does not exist (SQLSTATE 42703)"#)
    );
    assert_eq!(pool.size(), 0, "a connection that failed is not given back");
}

async fn full_pool_is_degraded_without_waiting<P: Backend>(test: &str) {
    let Some((_, url, _)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 2);
    let held = (pool.hold().await, pool.hold().await);
    let report = run(&pool).await;
    assert_eq!(report.status(), Status::Degraded, "{report:?}");
    assert_eq!(
        report.reason(),
        Some("pool exhausted: 2/2 connections in use")
    );
    assert_eq!(measured(&report, "pool_in_use"), Some(2.0));
    drop(held);
    settle(&pool, 2).await;
    assert_eq!(run(&pool).await.status(), Status::Healthy);
}

async fn pool_with_room_grows<P: Backend>(test: &str) {
    let Some((admin, url, name)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 2);
    let _held = pool.hold().await;
    let report = run(&pool).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    assert_eq!(measured(&report, "pool_in_use"), Some(1.0));
    settle(&pool, 1).await;
    assert_eq!(pool.size(), 2, "the new connection stays in the pool");
    assert_eq!(backends(&admin, &name).await.len(), 2);
}

async fn connection_abandoned_mid_query_is_dropped<P: Backend>(test: &str) {
    let Some((admin, url, name)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 2);
    assert_eq!(run(&pool).await.status(), Status::Healthy);
    settle(&pool, 1).await;
    let [sleeping] = backends(&admin, &name).await[..] else {
        panic!("one pooled connection");
    };

    let check = pool.clone().query("SELECT pg_sleep(60)");
    {
        // Drop the run while its query is on the server, as the runner does at its
        // deadline.
        let mut running = pin!(check.check());
        tokio::select! {
            report = &mut running => panic!("pg_sleep(60) answered: {report:?}"),
            () = postgres::wait_active(&admin, &name, "SELECT pg_sleep(60)") => {}
        }
    }
    assert_eq!(
        pool.size(),
        0,
        "the abandoned connection left the pool at once"
    );

    let report = run(&pool).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    let now = backends(&admin, &name).await;
    assert_eq!(now.len(), 2, "the sleeping backend and a new one: {now:?}");
    assert!(now.contains(&sleeping));
    terminate(&admin, &name).await;
}

async fn dead_idle_connection_is_replaced_in_the_same_run<P: Backend>(test: &str) {
    let Some((admin, url, name)) = postgres::server(test, "health-test") else {
        return;
    };
    let pool = P::pool(&url, 3);
    assert_eq!(run(&pool).await.status(), Status::Healthy);
    settle(&pool, 1).await;
    let killed = terminate(&admin, &name).await;
    assert_eq!(killed.len(), 1);

    let report = run(&pool).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    settle(&pool, 1).await;
    let now = backends(&admin, &name).await;
    assert!(
        now.len() == 1 && now[0] != killed[0],
        "a new connection replaced the killed one: {now:?}"
    );
}

async fn refused_connection_names_the_address_not_the_password<P: Backend>(_: &str) {
    // Needs no server: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://health:s3cret-pw@127.0.0.1:{port}/app");
    let report = run(&P::pool(&url, 2)).await;
    assert_eq!(report.status(), Status::Unhealthy);
    let reason = report.reason().unwrap();
    assert!(reason.starts_with("connection refused"), "{reason}");
    for secret in ["s3cret", "postgres://", "health:"] {
        assert!(!reason.contains(secret), "{reason:?} shows {secret:?}");
    }
}

/// For each backend, against one private cluster: initdb and a server start cost more
/// than the test itself.
#[tokio::test]
async fn wrong_password_is_an_authentication_failure() {
    let Some(cluster) = Cluster::start("wrong_password_is_an_authentication_failure").await else {
        return;
    };
    postgres::execute(
        &cluster.url(),
        &format!("CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right-pw-7'"),
    )
    .await;
    let url = |password: &str| {
        format!(
            "postgres://{PASSWORD_ROLE}:{password}@127.0.0.1:{}/postgres",
            cluster.port()
        )
    };
    authentication::<sqlx::PgPool>(&url("wrong-pw-7"), &url("right-pw-7")).await;
    authentication::<deadpool_postgres::Pool>(&url("wrong-pw-7"), &url("right-pw-7")).await;
}

async fn authentication<P: Backend>(wrong: &str, right: &str) {
    let backend = std::any::type_name::<P>();
    let report = run(&P::pool(wrong, 2)).await;
    assert_eq!(report.status(), Status::Unhealthy, "{backend}: {report:?}");
    assert_eq!(
        report.reason(),
        Some(&*format!(
            r#"authentication failed: password authentication failed for user "{PASSWORD_ROLE}" (SQLSTATE 28P01)"#
        )),
        "{backend}"
    );
    let report = run(&P::pool(right, 2)).await;
    assert_eq!(report.status(), Status::Healthy, "{backend}: {report:?}");
}

async fn stalled_server_leaves_no_half_used_connection<P: Backend>(test: &str) {
    let Some((admin, _, name)) = postgres::server(test, "health-test") else {
        return;
    };
    let proxy = StallingProxy::start(postgres::server_addr(&admin).await).await;
    let url = with_application_name(
        &format!("postgres://postgres@{}/postgres", proxy.addr),
        &name,
    );
    let pool = P::pool(&url, 2);
    assert_eq!(run(&pool).await.status(), Status::Healthy);
    settle(&pool, 1).await;

    proxy.stall();
    let deadline = Duration::from_millis(300);
    assert!(
        tokio::time::timeout(deadline, pool.check()).await.is_err(),
        "a stalled server cannot answer"
    );
    assert_eq!(pool.size(), 0, "the stuck connection left the pool");

    proxy.resume();
    let report = run(&pool).await;
    assert_eq!(report.status(), Status::Healthy, "{report:?}");
    terminate(&admin, &name).await;
}

/// deadpool counts the tasks waiting for a connection; sqlx does not.
#[tokio::test]
async fn deadpool_full_pool_counts_its_waiters() {
    let Some((_, url, _)) =
        postgres::server("deadpool_full_pool_counts_its_waiters", "health-test")
    else {
        return;
    };
    let pool = <deadpool_postgres::Pool as Backend>::pool(&url, 1);
    let held = pool.hold().await;
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { drop(pool.hold().await) }
    });
    within(NEVER_WAITS, "a task waits for the pool", || async {
        pool.status().waiting == 1
    })
    .await;
    let report = run(&pool).await;
    assert_eq!(
        report.reason(),
        Some("pool exhausted: 1/1 connections in use, 1 waiting")
    );
    assert_eq!(measured(&report, "pool_waiting"), Some(1.0));
    drop(held);
    waiter.await.unwrap();
}

/// Each behaviour above, once per backend: `sqlx_pool::<test>` and `deadpool_pool::<test>`.
macro_rules! for_each_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlx_pool {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test::<::sqlx::PgPool>(concat!("sqlx_pool::", stringify!($test))).await;
                }
            )*
        }

        mod deadpool_pool {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test::<::deadpool_postgres::Pool>(concat!("deadpool_pool::", stringify!($test))).await;
                }
            )*
        }
    };
}

for_each_backend!(
    healthy_run_opens_then_reuses_one_connection,
    the_pool_on_a_derived_state_as_it_is,
    custom_query_runs_on_the_simple_protocol,
    query_error_names_it_and_drops_the_connection,
    full_pool_is_degraded_without_waiting,
    pool_with_room_grows,
    connection_abandoned_mid_query_is_dropped,
    dead_idle_connection_is_replaced_in_the_same_run,
    refused_connection_names_the_address_not_the_password,
    stalled_server_leaves_no_half_used_connection,
);
