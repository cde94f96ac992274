//! The page itself: summary, session charts, the alert table, inline CSS and the small
//! script that sorts the table. Every piece of text from the capture goes through `esc`;
//! the script reads only the DOM, so no capture data is ever placed inside it.

use super::chart::{self, Decision};
use super::timeline::SessionTimeline;
use super::{AlertRow, InvestigationReport, Rank};
use crate::evidence::Dir;
use crate::pipeline::Summary;
use crate::verdict::Tier;
use std::collections::HashMap;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Captured bytes as readable text: printable ASCII and newlines as they are, everything
/// else as `\xNN` (tabs and carriage returns as `\t`, `\r`). Not yet HTML-escaped.
pub fn visible_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' => out.push('\n'),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

fn tier_rank(t: Option<Tier>) -> u8 {
    match t {
        None => 0,
        Some(Tier::Low) => 1,
        Some(Tier::Medium) => 2,
        Some(Tier::High) => 3,
    }
}

fn tier_name(t: Option<Tier>) -> &'static str {
    t.map_or("none", Tier::as_str)
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
header,main{max-width:1400px;margin:0 auto;padding:12px 20px}
header{background:#1f2933;color:#fff;max-width:none}
header h1{font-size:20px;margin:4px 0}
h2{font-size:17px;margin:22px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:20px}
.tier{display:inline-block;border-radius:4px;padding:0 6px;font-weight:600;color:#fff}
.tier.high{background:#c0392b}.tier.medium{background:#d68910}.tier.low{background:#5d6d7e}.tier.none{background:#aab}
.session{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:10px 14px;margin:12px 0}
.session h3{font-size:15px;margin:0 0 6px}
.session .body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.session .facts{flex:1;min-width:260px}
.session ul{margin:4px 0;padding-left:18px}
pre.bytes{background:#f2f4f7;border:1px solid #e1e4e8;padding:6px;white-space:pre-wrap;word-break:break-all;max-height:12em;overflow:auto;font-size:12px}
.bytes-pair{display:flex;gap:12px;flex-wrap:wrap}.bytes-pair>div{flex:1;min-width:300px}
svg.timeline{background:#fff;border:1px solid #e1e4e8}
svg .up{stroke:#2563eb;stroke-width:1.6}svg .down{stroke:#16a34a;stroke-width:1.6}
svg .axis{stroke:#1f2933;stroke-width:1}svg .grid{stroke:#eef0f3;stroke-width:1}
svg text{font-size:10px;fill:#52606d}svg text.size{text-anchor:end}svg text.end{text-anchor:end}
svg .think{fill:#fff3c4;opacity:.8}svg .think-label{fill:#8d6e00;text-anchor:middle}
svg .turn{fill:#7b3fa0}svg path.echo{stroke:#e67e22;stroke-width:1}svg circle.echo{fill:#e67e22}
svg .break rect{fill:#eceff3}svg .break path{stroke:#52606d;fill:none;stroke-width:1.4}svg .break text{text-anchor:middle}
svg .omitted{fill:#f4f4f4;stroke:#c8ccd2;stroke-dasharray:3 3}
svg .decision path{stroke:#c0392b;stroke-width:1.4;stroke-dasharray:4 3}svg .decision text{fill:#c0392b;font-weight:600}
svg .decision.medium path{stroke:#d68910}svg .decision.medium text{fill:#d68910}
svg .decision.low path{stroke:#5d6d7e}svg .decision.low text{fill:#5d6d7e}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:8px;margin-right:4px}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #e1e4e8;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef0f3;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right}td.cmds{max-width:320px;font-family:monospace;font-size:12px}
tr.excluded{color:#8a94a0}
#filter{margin:0 0 8px;padding:4px 6px;width:320px}
"#;

/// Sorts the table by a clicked header (again: the other way) and filters its rows.
/// Cells sort by their `data-v` (numbers) when they have one, else by their text.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('alerts');
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(row, i, numeric) {
    var cell = row.cells[i];
    var v = cell.getAttribute('data-v');
    if (numeric) { return parseFloat(v === null ? cell.textContent : v); }
    return (v === null ? cell.textContent : v).toLowerCase();
  }
  Array.prototype.forEach.call(heads, function (th, i) {
    th.addEventListener('click', function () {
      var numeric = th.getAttribute('data-type') === 'num';
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, i, numeric), y = key(b, i, numeric);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) { frag.appendChild(r); });
      body.appendChild(frag);
    });
  });
  var filter = document.getElementById('filter');
  filter.addEventListener('input', function () {
    var q = filter.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
})();
"#;

pub(super) fn render(r: &InvestigationReport, s: &Summary, charts: &[(Rank, SessionTimeline)]) -> String {
    let mut h = String::with_capacity(64 * 1024 + r.rows.len() * 600);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
    h.push_str("<title>shellsight investigation report</title><style>");
    h.push_str(STYLE);
    h.push_str("</style></head><body><header><h1>shellsight investigation report</h1><div>");
    let _ = write!(h, "{}", esc(&r.inputs.join(", ")));
    h.push_str("</div></header><main>");
    summary(&mut h, r, s);
    sessions(&mut h, r, charts);
    table(&mut h, r, charts);
    h.push_str("</main><script>");
    h.push_str(SCRIPT);
    h.push_str("</script></body></html>\n");
    h
}

fn summary(h: &mut String, r: &InvestigationReport, s: &Summary) {
    let span = match (s.first_ts, s.last_ts) {
        (Some(a), Some(b)) => {
            format!("{} … {} ({:.1} s)", a.to_rfc3339(), b.to_rfc3339(), (b - a).as_secs_f64())
        }
        _ => "empty".to_string(),
    };
    let mut by_tier = [0usize; 4];
    for rank in r.ranks.values() {
        by_tier[tier_rank(rank.0) as usize] += 1;
    }
    h.push_str("<section id=\"summary\"><h2>Capture</h2>");
    let _ = write!(h, "<p>{}</p><div class=\"cards\">", esc(&span));
    let d = &s.decode;
    let cards: [(&str, String, &str); 9] = [
        ("packets", d.packets.to_string(), "packets"),
        ("sessions", s.table.created.to_string(), "sessions"),
        ("alerts", s.report.alerts.to_string(), "alert records"),
        ("sessions-high", by_tier[3].to_string(), "high sessions"),
        ("sessions-medium", by_tier[2].to_string(), "medium sessions"),
        ("sessions-low", by_tier[1].to_string(), "low sessions"),
        ("upgrades", s.report.upgrades.to_string(), "upgrades"),
        ("excluded", s.report.excluded.to_string(), "excluded by policy"),
        ("malformed", d.malformed.to_string(), "malformed packets"),
    ];
    for (id, value, label) in cards {
        let _ = write!(h, "<div class=\"card\" id=\"count-{id}\"><b>{value}</b>{label}</div>");
    }
    h.push_str("</div>");
    for w in &s.warnings {
        let _ = write!(h, "<p class=\"warning\">⚠ {}</p>", esc(w));
    }
    h.push_str("</section>");
}

fn sessions(h: &mut String, r: &InvestigationReport, charts: &[(Rank, SessionTimeline)]) {
    let alerted = r.ranks.len();
    let _ =
        write!(h, "<section id=\"sessions\"><h2>Top sessions ({} of {alerted} alerted)</h2>", charts.len());
    h.push_str(
        "<p class=\"legend\"><span><i style=\"background:#2563eb\"></i>upstream: sent by the side that opened the session</span>\
         <span><i style=\"background:#16a34a\"></i>downstream</span><span><i style=\"background:#7b3fa0\"></i>typist's turn</span>\
         <span><i style=\"background:#e67e22\"></i>keystroke echo</span><span><i style=\"background:#fff3c4\"></i>think time</span>\
         <span><i style=\"background:#c0392b\"></i>decision</span><span><i style=\"background:#eceff3\"></i>idle, compressed</span></p>",
    );
    let mut rows_of: HashMap<&str, Vec<&AlertRow>> = HashMap::new();
    for row in &r.rows {
        rows_of.entry(row.session_id.as_str()).or_default().push(row);
    }
    for (rank, t) in charts {
        let rows = rows_of.get(t.session_id.as_str()).cloned().unwrap_or_default();
        let Some(last) = rows.last() else { continue };
        let typist = last.shell_side.other();
        let decisions: Vec<Decision> =
            rows.iter().map(|a| Decision { at: a.decided_at, tier: a.tier, score: a.score }).collect();
        let labels = [format!("{} (source)", last.source), format!("{} (destination)", last.destination)];
        let (svg, marks) = chart::render(t, &decisions, typist, [&labels[0], &labels[1]]);
        let tier = tier_name(rank.0);
        let _ = write!(
            h,
            "<article class=\"session\" id=\"s-{id}\"><h3><span class=\"tier {tier}\">{tier}</span> {score} · {rule} · {src} → {dst}{net}</h3>",
            id = esc(&t.session_id),
            score = rank.1,
            rule = esc(last.rule),
            src = esc(&last.source),
            dst = esc(&last.destination),
            net = last.remote_network.as_ref().map(|n| format!(" · {}", esc(n))).unwrap_or_default(),
        );
        h.push_str("<div class=\"body\">");
        h.push_str(&svg);
        h.push_str("<div class=\"facts\"><b>Reasons</b><ul class=\"reasons\">");
        for reason in &last.reasons {
            let _ = write!(h, "<li>{}</li>", esc(reason));
        }
        h.push_str("</ul>");
        let kept = t.timeline.points().len();
        let _ = write!(
            h,
            "<p>{} typed turns, {} keystroke echoes, {} think-time gaps, {} idle stretches compressed; {} of {} payload packets drawn. Shell on the {} side; {} · session {}.</p>",
            marks.turns,
            marks.echoes,
            marks.think_gaps,
            marks.breaks,
            kept,
            t.timeline.total(),
            if last.shell_side == Dir::Orig { "source" } else { "destination" },
            last.transport,
            esc(&t.session_id),
        );
        if let Some(p) = &last.process {
            let _ = write!(h, "<p><b>Process</b> {}</p>", esc(p));
        }
        if !last.commands.is_empty() {
            h.push_str("<b>Commands</b><ul class=\"commands\">");
            for c in &last.commands {
                let _ = write!(h, "<li><code>{}</code></li>", esc(c));
            }
            h.push_str("</ul>");
        }
        h.push_str("</div></div><div class=\"bytes-pair\">");
        for (dir, who) in [(Dir::Orig, &last.source), (Dir::Resp, &last.destination)] {
            let bytes = t.timeline.first_bytes(dir);
            if bytes.is_empty() {
                continue;
            }
            let _ = write!(
                h,
                "<div><b>First bytes from {}</b><pre class=\"bytes\">{}</pre></div>",
                esc(who),
                esc(&visible_bytes(bytes))
            );
        }
        h.push_str("</div></article>");
    }
    h.push_str("</section>");
}

fn table(h: &mut String, r: &InvestigationReport, charts: &[(Rank, SessionTimeline)]) {
    let charted: std::collections::HashSet<&str> =
        charts.iter().map(|(_, t)| t.session_id.as_str()).collect();
    let _ = write!(h, "<section id=\"all-alerts\"><h2>All alerts ({})</h2>", r.rows.len());
    h.push_str(
        "<input id=\"filter\" type=\"search\" placeholder=\"filter rows (address, reason, process …)\">",
    );
    h.push_str("<table id=\"alerts\"><thead><tr>");
    for (name, kind) in [
        ("Decided (UTC)", "text"),
        ("Tier", "num"),
        ("Score", "num"),
        ("Rule", "text"),
        ("Transport", "text"),
        ("Source", "text"),
        ("Destination", "text"),
        ("Remote network", "text"),
        ("Process", "text"),
        ("Commands", "text"),
        ("Reasons", "text"),
        ("Event", "text"),
    ] {
        let _ = write!(h, "<th data-type=\"{kind}\">{name}</th>");
    }
    h.push_str("</tr></thead><tbody>");
    for a in &r.rows {
        let tier = tier_name(a.tier);
        let class = if a.excluded { " class=\"excluded\"" } else { "" };
        let event = if charted.contains(a.session_id.as_str()) {
            format!("<a href=\"#s-{}\">{}</a>", esc(&a.session_id), esc(&a.event_id))
        } else {
            esc(&a.event_id)
        };
        let _ = write!(
            h,
            "<tr{class}><td data-v=\"{ts}\">{ts}</td><td data-v=\"{rank}\"><span class=\"tier {tier}\">{tier}{ex}</span></td><td class=\"num\" data-v=\"{score}\">{score}</td><td>{rule}</td><td>{transport}</td><td>{src}</td><td>{dst}</td><td>{net}</td><td>{process}</td><td class=\"cmds\">{cmds}</td><td>{reasons}</td><td>{event}</td></tr>",
            ts = a.decided_at.to_rfc3339(),
            rank = tier_rank(a.tier),
            ex = if a.excluded { " (excluded)" } else { "" },
            score = a.score,
            rule = esc(a.rule),
            transport = a.transport,
            src = esc(&a.source),
            dst = esc(&a.destination),
            net = esc(a.remote_network.as_deref().unwrap_or("")),
            process = esc(a.process.as_deref().unwrap_or("")),
            cmds = a.commands.iter().map(|c| esc(c)).collect::<Vec<_>>().join("<br>"),
            reasons = esc(&a.reasons.join(", ")),
        );
    }
    h.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_leave_its_element() {
        let hostile = "</script><img src=x onerror=alert(1)>\"'&";
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert_eq!(e, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;");
        let bytes = visible_bytes(b"id\n\x1b[0m\x00\xff\r\t\\");
        assert_eq!(bytes, "id\n\\x1b[0m\\x00\\xff\\r\\t\\\\");
    }
}
