//! Generates health-http's gRPC code (`health-http/src/grpc/proto.rs`) from the vendored
//! `health-http/proto/health.proto`, in pure Rust: `protox` parses the file, so no `protoc`
//! is needed, and `tonic-prost-build` writes the prost messages, the tonic server and
//! the tonic client.
//!
//! The output is committed, so health-http's users compile neither this crate nor its
//! dependencies. After changing the proto or these settings, run
//!
//! ```text
//! cargo run -p health-codegen
//! ```
//!
//! and commit the result; `cargo test -p health-codegen` fails while the committed file
//! differs from what this crate generates.
//!
//! # Examples
//!
//! ```no_run
//! let generated = health_codegen::generate(&std::env::temp_dir().join("health-codegen"))?;
//! assert!(generated.contains("pub struct HealthListResponse"));
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

/// The Rust path of the codec the generated client and server use: prost's, with buffers
/// sized for health messages (see `health-http/src/grpc/codec.rs`).
pub const CODEC_PATH: &str = "crate::grpc::codec::HealthCodec";

/// Returns the workspace's `health-http` directory.
///
/// # Examples
///
/// ```
/// assert!(health_codegen::health_http_dir().join("Cargo.toml").exists());
/// ```
#[must_use]
pub fn health_http_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../health-http")
}

/// Returns the path of the committed generated file.
///
/// # Examples
///
/// ```
/// assert!(health_codegen::committed_path().ends_with("src/grpc/proto.rs"));
/// ```
#[must_use]
pub fn committed_path() -> PathBuf {
    health_http_dir().join("src/grpc/proto.rs")
}

/// Generates the code into `out_dir` (created if missing) and returns it.
///
/// # Errors
///
/// The proto does not parse, or `out_dir` cannot be written or read.
///
/// # Examples
///
/// See the [crate docs](crate).
pub fn generate(out_dir: &Path) -> io::Result<String> {
    let proto_dir = health_http_dir().join("proto");
    let descriptors = protox::compile(["health.proto"], [&proto_dir])
        .map_err(|err| io::Error::other(format!("{}: {err}", proto_dir.display())))?;
    std::fs::create_dir_all(out_dir)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // `connect` needs tonic's transport feature; health-http enables only `codegen`.
        .build_transport(false)
        .codec_path(CODEC_PATH)
        .out_dir(out_dir)
        .compile_fds(descriptors)?;
    std::fs::read_to_string(out_dir.join("grpc.health.v1.rs"))
}
