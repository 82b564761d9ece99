//! The self-contained HTML report of a checked history: the verdict, a
//! timeline with one row per process and every operation a box from its
//! invocation to its completion, and the offset → record table with the
//! anomalies marked. No scripts, no external files: it opens anywhere.
//!
//! In the log spec an acknowledged append linearizes at its offset, so the
//! offsets written in the boxes are the linearization order; when the
//! search fails, the operation it could not get past is outlined.

use super::anomalies::Anomaly;
use super::history::{Op, Outcome};
use super::plots::{self, FaultSpan, Frame};
use super::report::Report;
use super::wgl::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Past this many operations the timeline shows the first ones only (the
/// table and the verdict still cover everything).
pub(super) const TIMELINE_MAX: usize = 4000;
const ROW: usize = 22;
const WIDTH: f64 = 1400.0;
const LEFT: usize = 90;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn label(op: &Op) -> String {
    match op {
        Op::Append {
            value,
            outcome,
            offset,
            ..
        } => match (outcome, offset) {
            (Outcome::Ok, Some(o)) => format!("append {value} @{o}"),
            (Outcome::Fail, _) => format!("append {value}: failed"),
            _ => format!("append {value}: unknown"),
        },
        Op::Poll { records, .. } => match (records.first(), records.last()) {
            (Some(a), Some(b)) => format!("poll {}..{} ({} records)", a.0, b.0, records.len()),
            _ => "poll: nothing".to_string(),
        },
    }
}

/// The whole page; `faults` are the nemesis's, drawn over every plot.
pub fn render(title: &str, ops: &[Op], report: &Report, faults: &[FaultSpan]) -> String {
    let mut flagged: BTreeSet<usize> = BTreeSet::new();
    for a in &report.anomalies {
        flagged.extend(a.ops.iter().copied());
    }
    let stuck: BTreeSet<usize> = report
        .verdicts
        .values()
        .filter_map(|v| match v {
            Verdict::NotLinearizable { op } => Some(*op),
            _ => None,
        })
        .collect();
    let mut page = String::new();
    let verdict = if report.valid() {
        "<p class=good>Linearizable, no anomaly.</p>".to_string()
    } else {
        format!(
            "<p class=bad>{} anomalies; {}.</p>",
            report.anomalies.len(),
            if report.linearizable() {
                "linearizable"
            } else {
                "not linearizable (or undecided)"
            }
        )
    };
    let _ = write!(
        page,
        "<!doctype html><html><head><meta charset=utf-8><title>{t}</title><style>{STYLE}{}</style></head><body>\
         <h1>{t}</h1>{verdict}<pre>{text}</pre>",
        plots::STYLE,
        t = esc(title),
        text = esc(&report.text()),
    );
    let shown = &ops[..ops.len().min(TIMELINE_MAX)];
    let frame = Frame::of(shown, faults, LEFT as f64, WIDTH);
    timeline(
        &mut page,
        &frame,
        shown,
        ops.len(),
        faults,
        &flagged,
        &stuck,
    );
    plots::latency(&mut page, &frame, shown, faults);
    plots::rate(&mut page, &frame, ops, faults);
    offsets(&mut page, ops, &report.anomalies);
    page.push_str("</body></html>\n");
    page
}

const STYLE: &str = "body{font:13px system-ui,sans-serif;margin:1.5em}\
.good{color:#14632b;font-weight:bold}.bad{color:#a0141e;font-weight:bold}\
rect.ok{fill:#8fd19e}rect.fail{fill:#c8c8c8}rect.info{fill:#f4c86a}\
rect.flag{stroke:#d0021b;stroke-width:2}rect.stuck{stroke:#000;stroke-width:3}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}\
tr.anomaly{background:#fbd5d5}";

fn timeline(
    page: &mut String,
    frame: &Frame,
    shown: &[Op],
    total: usize,
    faults: &[FaultSpan],
    flagged: &BTreeSet<usize>,
    stuck: &BTreeSet<usize>,
) {
    let mut rows: BTreeMap<u64, usize> = BTreeMap::new();
    for op in shown {
        let next = rows.len();
        rows.entry(op.process()).or_insert(next);
    }
    // Room above the rows for the faults' labels.
    let top = if faults.is_empty() { 0 } else { 36 };
    let body = rows.len() * ROW;
    let height = top + body + 30;
    let _ = write!(
        page,
        "<h2>Operations</h2><p>One row per process; a box runs from invocation to \
         completion (green ok, grey failed, amber unknown; red outline: in an anomaly; \
         black: where the linearization search got stuck). Shaded bands: the nemesis's \
         faults, from injection until healed ({} of them). {} of {total} operations shown, \
         {:.3} s in all.</p><svg class=timeline width={} height={height} xmlns='http://www.w3.org/2000/svg'>",
        faults.len(),
        shown.len(),
        (frame.end - frame.start) as f64 / 1e9,
        LEFT + WIDTH as usize + 10
    );
    plots::bands(page, frame, faults, 0, top + body, true);
    plots::axis(page, frame, top, top + body + 4);
    for (process, row) in &rows {
        let _ = write!(
            page,
            "<text x=2 y={}>process {process}</text>",
            top + row * ROW + 15
        );
    }
    for (i, op) in shown.iter().enumerate() {
        let (a, b) = op.times();
        let x = frame.x(a);
        let w = (frame.x(b) - x).max(2.0);
        let class = match op.outcome() {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        let mark = if stuck.contains(&i) {
            " stuck"
        } else if flagged.contains(&i) {
            " flag"
        } else {
            ""
        };
        let _ = write!(
            page,
            "<rect class='{class}{mark}' x={x:.1} y={} width={w:.1} height={}><title>#{i} {}</title></rect>",
            top + rows[&op.process()] * ROW + 3,
            ROW - 6,
            esc(&label(op))
        );
    }
    page.push_str("</svg>");
}

fn offsets(page: &mut String, ops: &[Op], anomalies: &[Anomaly]) {
    // partition -> offset -> value -> (acknowledged by, polls that saw it)
    type Seen = BTreeMap<String, (Vec<usize>, usize)>;
    let mut table: BTreeMap<&str, BTreeMap<u64, Seen>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Append {
                partition,
                value,
                outcome: Outcome::Ok,
                offset: Some(o),
                ..
            } => table
                .entry(partition)
                .or_default()
                .entry(*o)
                .or_default()
                .entry(value.clone())
                .or_default()
                .0
                .push(i),
            Op::Poll {
                partition, records, ..
            } => {
                for (o, v) in records {
                    table
                        .entry(partition)
                        .or_default()
                        .entry(*o)
                        .or_default()
                        .entry(v.clone())
                        .or_default()
                        .1 += 1;
                }
            }
            _ => {}
        }
    }
    let mut marks: BTreeMap<(&str, u64), BTreeSet<String>> = BTreeMap::new();
    for a in anomalies {
        if let Some(o) = a.offset {
            let kind = serde_json::to_value(a.kind).unwrap_or_default();
            marks
                .entry((&a.partition, o))
                .or_default()
                .insert(kind.as_str().unwrap_or("?").to_string());
        }
    }
    page.push_str("<h2>Offsets</h2>");
    for (partition, rows) in table {
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th>offset</th><th>value</th><th>acknowledged by</th>\
             <th>polls that returned it</th><th>anomaly</th></tr>",
            esc(partition)
        );
        for (offset, values) in rows {
            let kinds = marks.get(&(partition, offset));
            let class = if kinds.is_some() {
                " class=anomaly"
            } else {
                ""
            };
            for (value, (acks, polls)) in values {
                let by: Vec<String> = acks.iter().map(|i| format!("#{i}")).collect();
                let _ = write!(
                    page,
                    "<tr{class}><td>{offset}</td><td>{}</td><td>{}</td><td>{polls}</td><td>{}</td></tr>",
                    esc(&value),
                    by.join(" "),
                    kinds.map_or(String::new(), |k| {
                        k.iter().cloned().collect::<Vec<_>>().join(", ")
                    })
                );
            }
        }
        page.push_str("</table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::history::parse;
    use std::time::Duration;

    #[test]
    fn a_lost_write_is_highlighted_and_values_are_escaped() {
        let text = r#"{"process":0,"f":"append","partition":"t-0","value":"<a&b>","invoke_ns":0,"complete_ns":5,"type":"ok","offset":0}
{"process":0,"f":"append","partition":"t-0","value":"v1","invoke_ns":6,"complete_ns":9,"type":"ok","offset":1}
{"process":1,"f":"poll","partition":"t-0","invoke_ns":10,"complete_ns":12,"type":"ok","records":[[0,"<a&b>"],[2,"v2"]],"seek":true}
{"process":2,"f":"append","partition":"t-0","value":"v2","invoke_ns":1,"complete_ns":8,"type":"ok","offset":2}"#;
        let ops = parse(text).unwrap();
        let report = Report::check(&ops, Duration::from_secs(5));
        assert!(!report.valid());
        let page = render("run", &ops, &report, &[]);
        assert!(page.contains("&lt;a&amp;b&gt;"));
        assert!(!page.contains("<a&b>"));
        assert!(
            page.contains("<tr class=anomaly><td>1</td><td>v1</td>"),
            "{page}"
        );
        assert!(page.contains("lost-write"));
        assert!(page.contains("class='ok flag'") || page.contains("class='ok stuck'"));
        // Four operation boxes, and the one poll's latency point.
        assert_eq!(page.matches("<rect class='ok").count(), 4);
        assert_eq!(page.matches("<rect class='pt").count(), 1);
    }

    #[test]
    fn a_clean_history_says_so() {
        let text = r#"{"process":0,"f":"append","partition":"t-0","value":"v0","invoke_ns":0,"complete_ns":5,"type":"ok","offset":0}
{"process":1,"f":"poll","partition":"t-0","invoke_ns":6,"complete_ns":8,"type":"ok","records":[[0,"v0"]],"seek":true}"#;
        let ops = parse(text).unwrap();
        let report = Report::check(&ops, Duration::from_secs(5));
        let page = render("run", &ops, &report, &[]);
        assert!(page.contains("Linearizable, no anomaly."));
        assert!(!page.contains("class=anomaly"));
    }
}
