//! Every input a fuzzer ever crashed on, kept in `fuzz/regressions/TARGET/`, replayed
//! through the same entry point the fuzz target calls (`shellsight::fuzz_targets`):
//! each must now return without a panic. Also checks that each entry point has its
//! cargo-fuzz target and its regressions folder, so the two lists cannot drift apart.

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_kept_crash_input_now_runs_clean() {
    let mut replayed = 0;
    for (name, run) in shellsight::fuzz_targets::TARGETS {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "no cargo-fuzz target {}", target.display());
        let dir = fuzz_dir().join("regressions").join(name);
        assert!(dir.is_dir(), "no regressions folder {}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} panics again", path.display());
            replayed += 1;
        }
    }
    eprintln!("{replayed} kept fuzz inputs replayed");
}
