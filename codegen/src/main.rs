//! Regenerates `health-http/src/grpc/proto.rs`; see the library docs.

use std::process::ExitCode;

fn main() -> ExitCode {
    let out_dir = std::env::temp_dir().join(format!("health-codegen-{}", std::process::id()));
    let result = health_codegen::generate(&out_dir)
        .and_then(|code| std::fs::write(health_codegen::committed_path(), code));
    let _ = std::fs::remove_dir_all(&out_dir);
    match result {
        Ok(()) => {
            println!("wrote {}", health_codegen::committed_path().display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
