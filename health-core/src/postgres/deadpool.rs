//! The deadpool backend: [`deadpool_postgres::Pool`] over tokio-postgres. Feature
//! `deadpool-postgres`.
//!
//! What it relies on, from deadpool 0.13 `src/managed/` and deadpool-postgres 0.14:
//! - `Pool::timeout_get` with a zero `wait` takes a permit with `try_acquire` and fails at
//!   once with `Timeout(Wait)` when there is none (`pool.rs`, `non_blocking`). A permit
//!   exists exactly while fewer than `max_size` objects are out, so "an idle connection,
//!   or a new one while the pool may grow, else nothing" is one atomic step.
//! - An idle object is recycled first (`Manager::recycle`: `is_closed`, plus a query under
//!   `RecyclingMethod::Verified`); one that fails is dropped and the next tried.
//! - `Pool::status` counts `waiting` (tasks inside `get` beyond the pool's size).
//! - `Object::take` removes the object from the pool (size and permit given back), and
//!   dropping the `ClientWrapper` aborts its connection task, which closes the socket.
//!   Returning a client instead would leave a stuck query queued ahead of the next user's.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use deadpool_postgres::tokio_postgres::Error;
use deadpool_postgres::{Object, Pool as DeadPool, PoolError, TimeoutType, Timeouts};

use super::{Checkout, Failure, Phase, Pool, Stats, pool_checks};

pool_checks!(DeadPool);

impl Pool for DeadPool {
    type Connection = Object;

    fn stats(&self) -> Stats {
        let status = self.status();
        Stats {
            size: status.size,
            idle: status.available,
            max: status.max_size,
            waiting: Some(status.waiting),
        }
    }

    async fn checkout(&self) -> Result<Checkout<Self::Connection>, Failure> {
        let timeouts = Timeouts {
            wait: Some(Duration::ZERO),
            ..self.timeouts()
        };
        match self.timeout_get(&timeouts).await {
            // Recycled objects have been handed out before; a new one has not.
            Ok(object) if Object::metrics(&object).recycle_count > 0 => Ok(Checkout::Idle(object)),
            Ok(object) => Ok(Checkout::Opened(object)),
            Err(PoolError::Timeout(TimeoutType::Wait)) => Ok(Checkout::Exhausted),
            Err(PoolError::Timeout(_)) => Err(Failure::pool_timeout()),
            Err(PoolError::Backend(error)) => Err(failure(Phase::Connect, &error)),
            Err(PoolError::Closed) => Err(Failure::closed()),
            Err(other) => Err(Failure::driver(Phase::Connect, &other)),
        }
    }

    async fn run(connection: &mut Self::Connection, sql: &str) -> Result<(), Failure> {
        // `batch_execute` sends a simple-protocol Query message and keeps no rows.
        connection
            .batch_execute(sql)
            .await
            .map_err(|error| failure(Phase::Query, &error))
    }

    fn discard(connection: Self::Connection) {
        drop(Object::take(connection));
    }
}

fn failure(phase: Phase, error: &Error) -> Failure {
    if let Some(database) = error.as_db_error() {
        return Failure::server(phase, database.code().code(), database.message());
    }
    let cause = error.source();
    match (
        phase,
        cause.and_then(|cause| cause.downcast_ref::<io::Error>()),
    ) {
        // The pool does not say where it connects: tokio-postgres keeps its config.
        (Phase::Connect, Some(io)) => Failure::connect(io, None),
        // tokio-postgres wraps the cause ("error connecting to server: …"): show the cause.
        _ => Failure::driver(phase, cause.map_or(error as &dyn std::fmt::Display, |c| c)),
    }
}
