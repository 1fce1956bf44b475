//! Allocations in `Service::call` on the plain probe path: a small constant, the same
//! with 1 and with 1,024 checks, passing or failing. Its own test binary, because
//! `allocation-counter` installs the global allocator of the binary that uses it.

use health_core::{CheckHandle, CheckSpec, Registry};
use health_http::HealthService;
use http::Request;
use hyper::service::Service as _;

/// The response's `HeaderMap`: its index table and its entries. Nothing else allocates:
/// no body formatting or copying, no per-check work.
const EXPECTED: u64 = 2;
const CALLS: u64 = 100;

fn service_with(checks: usize) -> (HealthService, Vec<CheckHandle>) {
    let mut builder = Registry::builder();
    let handles = (0..checks)
        .map(|i| {
            builder
                .push(
                    CheckSpec::new(format!("check-{i}"))
                        .liveness()
                        .readiness()
                        .startup(),
                )
                .unwrap()
        })
        .collect::<Vec<_>>();
    handles.iter().for_each(CheckHandle::healthy);
    (HealthService::new(builder.build()), handles)
}

fn allocations_per_call(service: &HealthService, uri: &str) -> u64 {
    drop(service.call(Request::get(uri).body(()).unwrap())); // first-use work, if any
    let requests: Vec<_> = (0..CALLS)
        .map(|_| Request::get(uri).body(()).unwrap())
        .collect();
    let mut responses = Vec::with_capacity(requests.len());
    let info = allocation_counter::measure(|| {
        for request in requests {
            responses.push(service.call(request));
        }
    });
    assert_eq!(
        info.count_total % CALLS,
        0,
        "the same count on every call: {info:?}"
    );
    info.count_total / CALLS
}

#[test]
fn plain_probes_allocate_a_small_constant_whatever_the_number_of_checks() {
    let (one, one_handles) = service_with(1);
    let (many, many_handles) = service_with(1_024);
    for failing in [false, true] {
        if failing {
            one_handles[0].unhealthy("down");
            many_handles[512].unhealthy("down");
        }
        for uri in ["/livez", "/readyz", "/startupz", "/healthz"] {
            let (with_one, with_many) = (
                allocations_per_call(&one, uri),
                allocations_per_call(&many, uri),
            );
            assert_eq!(with_one, with_many, "{uri}: 1 check vs 1,024 checks");
            assert_eq!(with_one, EXPECTED, "{uri}");
        }
    }
}
