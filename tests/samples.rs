//! The shipped samples are what the project's generator writes today, byte for byte.

use flowaudit::synth::samples::{sample_names, write_sample};
use std::path::Path;

#[test]
fn shipped_samples_are_reproduced_by_the_generator() {
    let out = std::env::temp_dir().join(format!("flowaudit-samples-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for name in sample_names() {
        for written in write_sample(name, &out).unwrap() {
            let file = written.file_name().unwrap();
            let want = std::fs::read(shipped.join(file)).unwrap_or_else(|_| {
                panic!(
                    "samples/{} is missing: run `cargo run --bin flowaudit-gen -- samples`",
                    file.to_string_lossy()
                )
            });
            assert!(
                std::fs::read(&written).unwrap() == want,
                "samples/{} differs from what the generator writes: run `cargo run --bin flowaudit-gen -- samples`",
                file.to_string_lossy()
            );
        }
    }
}
