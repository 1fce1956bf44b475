//! The committed generated code is exactly what the vendored proto generates.

#[test]
fn committed_code_matches_the_proto() {
    let out_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("health-codegen");
    let generated = health_codegen::generate(&out_dir).unwrap();
    let committed = std::fs::read_to_string(health_codegen::committed_path()).unwrap();
    // Every method of the protocol, List included, is in the generated server.
    for path in ["Check", "List", "Watch"] {
        assert!(
            generated.contains(&format!("\"/grpc.health.v1.Health/{path}\"")),
            "{path} is missing from the generated code"
        );
    }
    assert!(
        generated == committed,
        "health-http/src/grpc/proto.rs is not what health-http/proto/health.proto generates: \
         run `cargo run -p health-codegen` and commit the result"
    );
}
