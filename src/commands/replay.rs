//! `shellsight replay FILE...`: the investigation workflow. Reads captures in order as
//! one capture and reports the shells in them.

use super::detect_setup::{self, DetectSetup};
use crate::capture::file::CaptureFile;
use crate::cli::ReplayArgs;
use crate::error::Result;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Files this big get a progress line on a terminal.
const PROGRESS_BYTES: u64 = 32 << 20;

pub fn run(args: ReplayArgs, quiet: bool) -> Result<()> {
    let setup = DetectSetup::resolve(&args.detect, false)?;
    // Open every file first, so a bad path fails before any output is written.
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        files.push((path.clone(), CaptureFile::open(path)?));
    }
    let started = Instant::now();
    let mut pipeline = setup.build_pipeline()?;
    let show_progress = !quiet && std::io::stderr().is_terminal();
    for (path, mut file) in files {
        let mut last_pct = None;
        let mut progress = |done: u64, total: u64| {
            if show_progress && total >= PROGRESS_BYTES {
                let pct = done * 100 / total.max(1);
                if last_pct != Some(pct) {
                    last_pct = Some(pct);
                    eprint!("\r{}: {pct:>3}%", file_name(&path));
                }
            }
        };
        pipeline.run(&mut file, &mut progress)?;
        if last_pct.is_some() {
            eprintln!();
        }
    }
    let summary = pipeline.finish()?;
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    if !quiet {
        detect_setup::print_summary(&summary, started.elapsed());
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
