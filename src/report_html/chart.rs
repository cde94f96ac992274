//! One session's timeline as inline SVG: packet sizes over time (upstream, from the side
//! that opened the session, above the axis; downstream below), with the typist's turns,
//! keystroke echoes, think-time gaps and the moments of decision marked. Idle stretches
//! longer than `IDLE_BREAK` are drawn short, with a visible break, so an hour of silence
//! does not squash the rest. Marks use the detector's own thresholds (`evidence::turns`).

use super::page::esc;
use super::timeline::{Point, SessionTimeline};
use crate::evidence::turns::{ECHO_WINDOW, HUMAN_GAP_MAX, IDLE_GAP, KEYSTROKE_MAX};
use crate::evidence::Dir;
use crate::time::{Span, Timestamp};
use crate::verdict::Tier;
use std::fmt::Write;

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 272.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const AXIS: f64 = 150.0;
/// Tallest bar, above or below the axis.
const BAR: f64 = 80.0;
/// Where the think-time strip runs, under the decision labels.
const THINK_Y: f64 = 50.0;
/// Gaps longer than this are compressed to it and drawn with a break.
pub const IDLE_BREAK: Span = Span::from_secs(20);
/// How wide a compressed stretch is, as a share of the time drawn to scale.
const BREAK_SHARE: f64 = 0.08;

/// A moment the session was judged and reported.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub at: Timestamp,
    pub tier: Option<Tier>,
    pub score: i32,
}

/// What the chart counted, for the text beside it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Marks {
    pub turns: u32,
    pub echoes: u32,
    pub think_gaps: u32,
    pub breaks: u32,
}

/// Capture time to x, with long idle stretches compressed.
struct TimeAxis {
    /// (capture time, compressed seconds from the start), increasing.
    anchors: Vec<(i64, f64)>,
    total: f64,
}

impl TimeAxis {
    fn new(
        start: Timestamp,
        times: impl Iterator<Item = Timestamp>,
        end: Timestamp,
    ) -> (Self, Vec<(f64, f64, Span)>) {
        let mut steps = Vec::new();
        let mut prev = start;
        for t in times.chain(std::iter::once(end)) {
            if t > prev {
                steps.push((t, t - prev));
                prev = t;
            }
        }
        // A break is drawn as wide as a small share of the time that is drawn to scale.
        let active: f64 = steps.iter().filter(|s| s.1 <= IDLE_BREAK).map(|s| s.1.as_secs_f64()).sum();
        let brk = (active * BREAK_SHARE).clamp(0.05, IDLE_BREAK.as_secs_f64());
        let mut anchors = vec![(start.as_nanos(), 0.0)];
        let mut breaks = Vec::new();
        let mut v = 0.0;
        for (t, gap) in steps {
            let step = if gap > IDLE_BREAK {
                breaks.push((v, v + brk, gap));
                brk
            } else {
                gap.as_secs_f64()
            };
            v += step;
            anchors.push((t.as_nanos(), v));
        }
        let total = v.max(1e-3);
        (TimeAxis { anchors, total }, breaks)
    }

    fn v(&self, t: Timestamp) -> f64 {
        let t = t.as_nanos();
        let i = self.anchors.partition_point(|a| a.0 <= t);
        if i == 0 {
            return 0.0;
        }
        let (t0, v0) = self.anchors[i - 1];
        match self.anchors.get(i) {
            Some(&(t1, v1)) if t1 > t0 => v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64,
            _ => v0,
        }
    }

    fn x_of_v(&self, v: f64) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * v / self.total
    }

    fn x(&self, t: Timestamp) -> f64 {
        self.x_of_v(self.v(t))
    }
}

/// Bar height for a payload of `len` bytes: logarithmic, so a 1-byte keystroke and a
/// 1400-byte page of output both read.
fn bar(len: u32) -> f64 {
    let top = (65_536f64).ln_1p();
    BAR * (len as f64).ln_1p().min(top) / top
}

fn dir_y(dir: Dir, h: f64) -> f64 {
    match dir {
        Dir::Orig => AXIS - h,
        Dir::Resp => AXIS + h,
    }
}

fn human(span: Span) -> String {
    let s = span.as_secs_f64();
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.0} min", s / 60.0)
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

/// The SVG for one session. `typist` is the side that types (the other side from the
/// shell); `labels` name the upstream and downstream senders.
pub fn render(
    t: &SessionTimeline,
    decisions: &[Decision],
    typist: Dir,
    labels: [&str; 2],
) -> (String, Marks) {
    let points = t.timeline.points();
    let mut times: Vec<Timestamp> =
        points.iter().map(|p| p.ts).chain(decisions.iter().map(|d| d.at)).collect();
    times.sort();
    let end = t.end.max(times.last().copied().unwrap_or(t.end));
    let (axis, breaks) = TimeAxis::new(t.start, times.into_iter(), end);
    let mut marks = Marks { breaks: breaks.len() as u32, ..Marks::default() };
    let mut svg = String::with_capacity(16 * 1024 + points.len() * 24);
    let _ = write!(
        svg,
        r#"<svg class="timeline" data-session="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="packet timeline of session {id}" xmlns="http://www.w3.org/2000/svg">"#,
        id = esc(&t.session_id)
    );
    let plot_right = WIDTH - RIGHT;
    // Think-time gaps first, so that bars are drawn over them.
    let mut gaps = String::new();
    let mut turn_marks = String::new();
    let mut echoes = String::new();
    for (i, w) in points.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        if b.n != a.n + 1 || a.dir == b.dir {
            continue;
        }
        // `b` starts a turn.
        if b.dir == typist {
            marks.turns += 1;
            let x = axis.x(b.ts);
            let _ = write!(turn_marks, r#"<path class="turn" d="M{x:.1} {:.1}l-3 -6h6z"/>"#, AXIS - 1.0);
            let gap = b.ts - a.ts;
            if (IDLE_GAP..=HUMAN_GAP_MAX).contains(&gap) && gap <= IDLE_BREAK {
                marks.think_gaps += 1;
                let (x0, x1) = (axis.x(a.ts), x);
                let _ = write!(
                    gaps,
                    r#"<rect class="think" x="{x0:.1}" y="{:.1}" width="{:.1}" height="16"><title>think time {}</title></rect>"#,
                    THINK_Y,
                    (x1 - x0).max(0.5),
                    human(gap)
                );
                if x1 - x0 > 34.0 {
                    let _ = write!(
                        gaps,
                        r#"<text class="think-label" x="{:.1}" y="{:.1}">{}</text>"#,
                        (x0 + x1) / 2.0,
                        THINK_Y + 12.0,
                        human(gap)
                    );
                }
            }
            // A one-packet keystroke turn answered at once with the same size: an echo.
            if b.len <= KEYSTROKE_MAX {
                if let Some(c) = points.get(i + 2) {
                    let single = c.n == b.n + 1 && c.dir != b.dir;
                    if single && c.len == b.len && c.ts - b.ts <= ECHO_WINDOW {
                        marks.echoes += 1;
                        let (xb, xc) = (axis.x(b.ts), axis.x(c.ts));
                        let _ = write!(
                            echoes,
                            r#"<path class="echo" d="M{xb:.1} {:.1}L{xc:.1} {:.1}"/><circle class="echo" cx="{xc:.1}" cy="{:.1}" r="2.5"/>"#,
                            dir_y(b.dir, bar(b.len)),
                            dir_y(c.dir, bar(c.len)),
                            dir_y(c.dir, bar(c.len))
                        );
                    }
                }
            }
        }
    }
    svg.push_str(&gaps);
    // Compressed idle stretches: a zigzag across the axis and how long they were.
    for (v0, v1, gap) in &breaks {
        let (x0, x1) = (axis.x_of_v(*v0), axis.x_of_v(*v1));
        let xm = (x0 + x1) / 2.0;
        let _ = write!(
            svg,
            r#"<g class="break"><rect x="{x0:.1}" y="14" width="{:.1}" height="{:.1}"/><path d="M{:.1} {:.1}l6 -8l-6 -8M{:.1} {:.1}l6 -8l-6 -8"/><text x="{xm:.1}" y="{:.1}">idle {}</text></g>"#,
            (x1 - x0).max(1.0),
            HEIGHT - 28.0,
            xm - 5.0,
            AXIS + 8.0,
            xm + 1.0,
            AXIS + 8.0,
            HEIGHT - 18.0,
            human(*gap)
        );
    }
    // Packets that were not kept (between the first ones and those around a decision).
    for w in points.windows(2) {
        if w[1].n > w[0].n + 1 {
            let (x0, x1) = (axis.x(w[0].ts), axis.x(w[1].ts));
            let _ = write!(
                svg,
                r#"<rect class="omitted" x="{x0:.1}" y="14" width="{:.1}" height="{:.1}"><title>{} packets not kept</title></rect>"#,
                (x1 - x0).max(1.0),
                HEIGHT - 28.0,
                w[1].n - w[0].n - 1
            );
        }
    }
    // Size gridlines and labels.
    for (len, label) in [(10u32, "10 B"), (100, "100 B"), (1000, "1 kB"), (10_000, "10 kB")] {
        for dir in [Dir::Orig, Dir::Resp] {
            let y = dir_y(dir, bar(len));
            let _ = write!(
                svg,
                r#"<path class="grid" d="M{LEFT} {y:.1}H{plot_right}"/><text class="size" x="{:.1}" y="{:.1}">{label}</text>"#,
                LEFT - 4.0,
                y + 3.0
            );
        }
    }
    // The bars: one path per direction.
    for (dir, class) in [(Dir::Orig, "up"), (Dir::Resp, "down")] {
        let mut d = String::new();
        for p in points.iter().filter(|p: &&Point| p.dir == dir) {
            let _ = write!(d, "M{:.1} {AXIS}V{:.1}", axis.x(p.ts), dir_y(dir, bar(p.len).max(1.5)));
        }
        let _ = write!(svg, r#"<path class="{class}" d="{d}"/>"#);
    }
    let _ = write!(svg, r#"<path class="axis" d="M{LEFT} {AXIS}H{plot_right}"/>"#);
    svg.push_str(&turn_marks);
    svg.push_str(&echoes);
    // Labels of decisions close together are stacked, so each stays readable.
    let mut last_label: Option<(f64, usize)> = None;
    for d in decisions {
        let x = axis.x(d.at);
        let row = match last_label {
            Some((lx, row)) if x - lx < 70.0 => (row + 1) % 3,
            _ => 0,
        };
        last_label = Some((x, row));
        let tier = d.tier.map_or("none", Tier::as_str);
        let _ = write!(
            svg,
            r#"<g class="decision {tier}"><path d="M{x:.1} 2V{:.1}"/><text x="{:.1}" y="{:.1}">{tier} {}</text></g>"#,
            HEIGHT - 12.0,
            x + 3.0,
            10.0 + 11.0 * row as f64,
            d.score
        );
    }
    // Time labels at both ends, and the senders' names on each side of the axis.
    let span = t.end - t.start;
    let _ = write!(
        svg,
        r#"<text class="time" x="{LEFT}" y="{:.1}">0 s</text><text class="time end" x="{plot_right}" y="{:.1}">{}</text>"#,
        HEIGHT - 2.0,
        HEIGHT - 2.0,
        human(span)
    );
    let _ = write!(
        svg,
        r#"<text class="side up" x="{:.1}" y="{:.1}">▲ {}</text><text class="side down" x="{:.1}" y="{:.1}">▼ {}</text>"#,
        LEFT + 4.0,
        THINK_Y - 4.0,
        esc(labels[0]),
        LEFT + 4.0,
        AXIS + BAR + 12.0,
        esc(labels[1])
    );
    svg.push_str("</svg>");
    (svg, marks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_html::timeline::{Timeline, TimelineBudget};

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn an_hour_of_silence_is_drawn_as_a_break_and_the_evidence_is_marked() {
        let mut budget = TimelineBudget::new(1 << 20);
        let mut tl = Timeline::default();
        // The shell greets; the typist types `id` after think time and gets output; then
        // keystrokes echoed one for one; an hour of silence; one more command.
        tl.record(at(0), Dir::Orig, 40, b"$ ", &mut budget);
        tl.record(at(2_500), Dir::Resp, 3, b"id\n", &mut budget);
        tl.record(at(2_504), Dir::Orig, 60, b"uid=0", &mut budget);
        tl.record(at(4_000), Dir::Resp, 1, b"l", &mut budget);
        tl.record(at(4_002), Dir::Orig, 1, b"l", &mut budget);
        tl.record(at(3_604_000), Dir::Resp, 4, b"ls\n", &mut budget);
        tl.record(at(3_604_010), Dir::Orig, 300, b"bin", &mut budget);
        let t = SessionTimeline { session_id: "s1".into(), start: at(0), end: at(3_605_000), timeline: tl };
        let decisions = [Decision { at: at(2_504), tier: Some(Tier::Medium), score: 50 }];
        let (svg, marks) = render(&t, &decisions, Dir::Resp, ["10.0.0.1:40000", "203.0.113.9:4444"]);
        assert_eq!(marks.breaks, 1);
        assert_eq!(marks.turns, 3);
        assert_eq!(marks.echoes, 1);
        assert_eq!(marks.think_gaps, 2, "2.5 s and 1.5 s; the hour is a break");
        assert!(svg.contains("idle 60 min"), "{svg}");
        assert!(svg.contains(r#"class="decision medium""#));
        // The hour takes no more room than the compressed stretch: the last command is
        // not squashed against the right edge.
        let axis = TimeAxis::new(t.start, t.timeline.points().iter().map(|p| p.ts), t.end).0;
        assert!(axis.x(at(3_604_000)) < WIDTH - RIGHT - 5.0);
        assert!(axis.x(at(2_500)) > LEFT + 50.0, "the typed part keeps its width");
    }
}
