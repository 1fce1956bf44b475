//! End-to-end fault scenarios across the workspace's crates (issue 7). The scenarios live in
//! `tests/`; this library is empty.
