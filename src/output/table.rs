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
    if let Some(what) = d.inside.as_deref().and_then(inside_line) {
        writeln!(w, "{:<24} {:<6} {:>5}  {}", "", "", "", what)?;
    }
    if let Some(p) = &a.process_line {
        writeln!(w, "{:<24} {:<6} {:>5}  {}", "", "", "", p)?;
    }
    Ok(())
}

/// One line naming what a webshell or SMB alert is about: the URI and the first command,
/// or the service and the pipes.
fn inside_line(i: &crate::evidence::inside::InsideFacts) -> Option<String> {
    use crate::evidence::inside::InsideFacts;
    match i {
        InsideFacts::Web(w) => {
            let e = w.headline()?;
            let command =
                e.command.as_ref().map(|c| format!(" {}={:?}", c.parameter, c.text)).unwrap_or_default();
            Some(format!("{} {}{}", e.method, e.path, command))
        }
        InsideFacts::Smb(s) => {
            let mut parts = Vec::new();
            if let Some(sv) = s.services.first() {
                parts.push(format!("service {} ({})", sv.name, sv.binary_path.as_deref().unwrap_or("?")));
            }
            if !s.exec_pipes.is_empty() {
                parts.push(format!("pipes {}", s.exec_pipes.join(", ")));
            }
            if s.encrypted {
                parts.push("encrypted SMB 3".to_string());
            }
            (!parts.is_empty()).then(|| parts.join("; "))
        }
    }
}
