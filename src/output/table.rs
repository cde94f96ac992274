//! A readable table for a person at a terminal.

use crate::report::Alert;
use std::io::{self, Write};

pub fn header(w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "{:<24} {:<6} {:>5}  {:<45} {:<34} REASONS",
        "DECIDED (UTC)", "TIER", "SCORE", "SOURCE -> DESTINATION", "RULE"
    )
}

pub fn row(w: &mut dyn Write, a: &Alert) -> io::Result<()> {
    let d = &a.detection;
    let ends = format!("{}:{} -> {}:{}", d.source.ip, d.source.port, d.destination.ip, d.destination.port);
    let mut tier = a.verdict.tier.map(|t| t.as_str()).unwrap_or("-").to_string();
    if a.excluded.is_some() {
        tier.push('*');
    }
    writeln!(
        w,
        "{:<24} {:<6} {:>5}  {:<45} {:<34} {}",
        d.decided_at.to_rfc3339(),
        tier,
        a.verdict.score,
        ends,
        super::ecs::rule_name(&a.verdict.reasons, d.shell_side),
        crate::verdict::reason::strings(&a.verdict.reasons).join(", ")
    )?;
    if let Some(p) = &a.process_line {
        writeln!(w, "{:<24} {:<6} {:>5}  {}", "", "", "", p)?;
    }
    Ok(())
}
