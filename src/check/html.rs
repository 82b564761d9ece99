//! Counterexamples people can look at: one self-contained page (no script,
//! no external file) with the verdicts and, for each violated property, the
//! story next to its message-sequence chart: a lifeline per actor, each
//! step an arrow or a mark on a lifeline, each broker's log after it, and
//! the records the violation is about marked wherever they go. Colours
//! follow the torture report's: green for what was acknowledged, red for
//! what is lost.

use super::diagram::{Diagram, Kind, Step};
use super::report::{PropertyReport, Report};
use crate::scenario::Verdict;
use std::fmt::Write;

/// Width of one lifeline's lane, in pixels.
const LANE: usize = 110;
/// Where a step's arrow or mark sits in its row.
const Y: usize = 20;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub const STYLE: &str = "body{font:13px system-ui,sans-serif;margin:1.5em;color:#222}\
h2{margin-top:2em}.holds{color:#14632b;font-weight:bold}.violated{color:#a0141e;font-weight:bold}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
table.msc td,table.msc th{border-left:none;border-right:none}\
table.msc td.lanes,table.msc th.lanes{position:relative;padding:0;border:none}\
td.lanes svg,th.lanes svg{position:absolute;top:0;left:0;width:100%;height:100%;overflow:visible}\
table.msc tr{height:34px}.n{color:#888;text-align:right}\
line.life{stroke:#bbb;stroke-width:1.5}line.life.leader{stroke:#3b6fb6;stroke-width:4}\
line.life.down{stroke:#e0a0a0;stroke-dasharray:4 3}\
line.msg{stroke:#333;stroke-width:1.3}line.msg.marked{stroke:#d0021b;stroke-width:2.2}\
text{font:10px system-ui,sans-serif}text.name{font-weight:bold;font-size:11px}text.marked{fill:#d0021b;font-weight:bold}\
.crash circle{fill:#d0021b}.restart circle{fill:#2e9e4f}.election rect{fill:#f4c86a;stroke:#a07800}\
.lag path{fill:#f0a030}.event circle{fill:#888}.mark text{font-weight:bold}\
span.rec{display:inline-block;background:#8fd19e;border-radius:3px;padding:0 4px;margin:0 1px}\
span.rec.marked{background:#d0021b;color:#fff;font-weight:bold}\
.log{white-space:nowrap}.log.down{color:#a0141e}.ending td{background:#fbd5d5;font-weight:bold}";

/// The arrowheads every chart's arrows point with.
const DEFS: &str = "<svg width=0 height=0 style=position:absolute aria-hidden=true><defs>\
<marker id=arrow viewBox='0 0 10 10' refX=9 refY=5 markerWidth=7 markerHeight=7 orient=auto-start-reverse>\
<path d='M0,0L10,5L0,10z' fill='#333'/></marker>\
<marker id=arrow-marked viewBox='0 0 10 10' refX=9 refY=5 markerWidth=7 markerHeight=7 orient=auto-start-reverse>\
<path d='M0,0L10,5L0,10z' fill='#d0021b'/></marker></defs></svg>";

fn x(lane: usize) -> usize {
    lane * LANE + LANE / 2
}

/// Lifelines for one row, drawn the height of the row.
fn lifelines(d: &Diagram, step: Option<&Step>) -> String {
    let mut s = String::new();
    for i in 0..d.lifelines.len() {
        let mut class = "life".to_string();
        if let Some(st) = step {
            if st.leader == Some(i) {
                class.push_str(" leader");
            }
            if st.down.get(i).copied().unwrap_or(false) {
                class.push_str(" down");
            }
        }
        let _ = write!(
            s,
            "<line class='{class}' x1={0} x2={0} y1=0 y2='100%'/>",
            x(i)
        );
    }
    s
}

fn mark(st: &Step) -> String {
    let cx = x(st.actor);
    let label = format!(
        "<text x={} y={} class='{}'>{}</text>",
        cx + 12,
        Y + 4,
        if st.carries_marked { "marked" } else { "" },
        esc(&st.label)
    );
    let shape = match st.kind {
        Kind::Message => {
            let from = x(st.from.unwrap_or(st.actor));
            let (class, marker) = if st.carries_marked {
                ("msg marked", "arrow-marked")
            } else {
                ("msg", "arrow")
            };
            let mid = (from + cx) / 2;
            return format!(
                "<line class='{class}' x1={from} x2={cx} y1={Y} y2={Y} marker-end='url(#{marker})'/>\
                 <text x={mid} y={} text-anchor=middle class='{}'>{}</text>",
                Y - 5,
                if st.carries_marked { "marked" } else { "" },
                esc(&st.label)
            );
        }
        Kind::Crash => format!(
            "<g class='mark crash'><circle cx={cx} cy={Y} r=8 /><text x={cx} y={} text-anchor=middle fill=#fff>x</text></g>",
            Y + 4
        ),
        Kind::Restart => format!("<g class='mark restart'><circle cx={cx} cy={Y} r=7 /></g>"),
        Kind::Election => format!(
            "<g class='mark election'><rect x={} y={} width=14 height=14 transform='rotate(45 {cx} {Y})'/></g>",
            cx - 7,
            Y - 7
        ),
        Kind::Lag => format!(
            "<g class='mark lag'><path d='M{},{}L{},{}L{},{}z'/></g>",
            cx - 7,
            Y + 6,
            cx + 7,
            Y + 6,
            cx,
            Y - 7
        ),
        Kind::Event => format!("<g class='mark event'><circle cx={cx} cy={Y} r=6 /></g>"),
    };
    format!("{shape}{label}")
}

fn logs(d: &Diagram, st: &Step) -> String {
    let mut s = String::new();
    for (b, log) in st.logs.iter().enumerate() {
        let down = st.down.get(b).copied().unwrap_or(false);
        let leader = if st.leader == Some(b) {
            " (leader)"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<div class='log{}'>{}{leader}: ",
            if down { " down" } else { "" },
            esc(&d.lifelines[b])
        );
        if log.is_empty() {
            s.push_str("empty");
        }
        for r in log {
            let class = if d.marked.contains(r) {
                "rec marked"
            } else {
                "rec"
            };
            let _ = write!(s, "<span class='{class}'>{}</span>", esc(r));
        }
        let _ = write!(
            s,
            " HW {}{}</div>",
            st.high_watermarks.get(b).copied().unwrap_or(0),
            if down { ", down" } else { "" }
        );
    }
    s
}

/// One property's counterexample as a chart with its story, under a
/// heading that starts with `title` (the page's, when empty).
pub fn chart(page: &mut String, id: &str, title: &str, p: &PropertyReport) {
    let Some(c) = &p.counterexample else { return };
    let Some(d) = &c.diagram else { return };
    let width = LANE * d.lifelines.len();
    let _ = write!(
        page,
        "<section class=counterexample id='{}'><h2>{}{} is violated in {} steps</h2>",
        esc(id),
        esc(title),
        esc(&p.name),
        c.length
    );
    if !d.marked.is_empty() {
        let _ = write!(
            page,
            "<p>Marked in red wherever it goes: {}.</p>",
            esc(&d.marked.join(", "))
        );
    }
    let _ = write!(
        page,
        "<table class=msc><thead><tr><th class=n>#</th><th class=lanes style='width:{width}px;min-width:{width}px'><svg>{}",
        lifelines(d, None)
    );
    for (i, name) in d.lifelines.iter().enumerate() {
        let _ = write!(
            page,
            "<rect x={} y=4 width={} height=20 fill='#fff' /><text class=name x={} y=18 text-anchor=middle>{}</text>",
            x(i) - LANE / 2 + 4,
            LANE - 8,
            x(i),
            esc(name)
        );
    }
    page.push_str(
        "</svg></th><th>what happens</th><th>logs after the step</th></tr></thead><tbody>",
    );
    for (i, st) in d.steps.iter().enumerate() {
        let _ = write!(
            page,
            "<tr class=step><td class=n>{}</td><td class=lanes><svg>{}{}</svg></td><td>{}</td><td>{}</td></tr>",
            i + 1,
            lifelines(d, Some(st)),
            mark(st),
            esc(&st.story),
            logs(d, st)
        );
    }
    if let Some(e) = &c.ending {
        let _ = write!(
            page,
            "<tr class=ending><td></td><td class=lanes><svg>{}</svg></td><td colspan=2>{}</td></tr>",
            lifelines(d, d.steps.last()),
            esc(e)
        );
    }
    page.push_str("</tbody></table></section>");
}

/// The verdicts of one report, as a table.
pub fn verdicts(page: &mut String, r: &Report, anchor: &dyn Fn(&str) -> String) {
    page.push_str("<table class=verdicts><tr><th>property</th><th>kind</th><th>verdict</th><th>expected</th></tr>");
    for p in &r.properties {
        let verdict = match (&p.counterexample, p.verdict) {
            (Some(c), _) if c.diagram.is_some() => format!(
                "<a class=violated href='#{}'>violated ({} steps)</a>",
                esc(&anchor(&p.name)),
                c.length
            ),
            (_, v) => format!("<span class={v}>{v}</span>"),
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{verdict}</td><td>{}</td></tr>",
            esc(&p.name),
            esc(&p.expectation),
            p.expected.map_or(String::new(), |e| e.to_string())
        );
    }
    page.push_str("</table>");
}

pub fn page_start(title: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{t}</title>\
         <style>{STYLE}</style></head><body>{DEFS}<h1>{t}</h1>",
        t = esc(title)
    )
}

/// The page for one check.
pub fn render(title: &str, r: &Report) -> String {
    let mut page = page_start(title);
    let _ = write!(page, "<p>{}</p>", esc(&r.config.summary()));
    let status = match (r.simulation, r.exhausted) {
        (true, _) => "Random walks: a violation found is real; one not found proves nothing.",
        (false, true) => {
            "Every reachable state was checked; each counterexample is a shortest one."
        }
        (false, false) => {
            "The search stopped before it was done: what is not violated is undecided."
        }
    };
    let _ = write!(page, "<p>{status}</p>");
    verdicts(&mut page, r, &|p| p.to_string());
    for p in &r.properties {
        if p.verdict == Verdict::Violated {
            chart(&mut page, &p.name, "", p);
        }
    }
    page.push_str("</body></html>\n");
    page
}
