//! `shellsight replay FILE...`: the investigation workflow. Reads captures in order as
//! one capture and reports the shells in them; `--report` also writes the HTML report.

use super::detect_setup::{self, DetectSetup};
use crate::capture::file::CaptureFile;
use crate::cli::ReplayArgs;
use crate::error::Result;
use crate::report_html::InvestigationReport;
use crate::sources::SourceKind;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Files this big get a progress bar when stderr is a terminal.
const PROGRESS_BYTES: u64 = 32 << 20;

pub fn run(args: ReplayArgs, quiet: bool) -> Result<()> {
    let mut setup = DetectSetup::resolve(&args.detect, false)?;
    setup.baseline = args.baseline.clone().map(|p| (p, crate::baseline::COMMIT_EVERY));
    if let Some(path) = &args.report {
        // Only a report needs the packet timelines: without one the per-packet path is
        // the same as ever.
        setup.detector.timelines = true;
        setup.report = Some((path.clone(), args.report_top));
    }
    let logs = args.auditd.iter().map(|p| (SourceKind::Auditd, p));
    let logs = logs.chain(args.sysmon.iter().map(|p| (SourceKind::Sysmon, p)));
    for (kind, path) in logs {
        let cache = setup.inventory.get_or_insert_with(Default::default);
        let mut cache = cache.lock().map_err(|_| crate::error::Error::runtime("inventory cache poisoned"))?;
        let n = crate::sources::load(kind, path, &mut cache)?;
        tracing::info!("{}: {n} process records", path.display());
    }
    read_captures(&setup, &args.files, quiet)
}

/// Reads capture files in order as one capture through the pipeline `setup` builds.
pub(super) fn read_captures(setup: &DetectSetup, paths: &[PathBuf], quiet: bool) -> Result<()> {
    // Open every file first, so a bad path fails before any output is written.
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        files.push((path.clone(), size, CaptureFile::open(path)?));
    }
    let report = match &setup.report {
        Some((path, top)) => Some(InvestigationReport::create(path, *top, paths)?),
        None => None,
    };
    let started = Instant::now();
    let mut pipeline = setup.build_pipeline()?;
    if let Some(r) = report {
        pipeline = pipeline.with_report(r);
    }
    let terminal = !quiet && std::io::stderr().is_terminal();
    for (path, size, mut file) in files {
        let bar = (terminal && size >= PROGRESS_BYTES).then(|| progress_bar(&path, size));
        let mut progress = |done: u64, _total: u64| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        };
        pipeline.run(&mut file, &mut progress)?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    let summary = pipeline.finish()?;
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    if !quiet {
        detect_setup::print_summary(&summary, started.elapsed());
    }
    if let Some((path, _)) = &setup.report {
        tracing::info!("report written to {}", path.display());
    }
    Ok(())
}

fn progress_bar(path: &Path, size: u64) -> ProgressBar {
    let bar = ProgressBar::new(size);
    let style =
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    bar
}
