//! The history over time, as Jepsen's reports draw it: a time axis shared
//! by every plot, the nemesis's faults as shaded bands (which broker, which
//! fault, from when until healed), each operation's latency, and the rate
//! of operations by kind and outcome, so a reader sees which fault a
//! failure or a stall lines up with.

use super::history::{Op, Outcome};
use serde::Deserialize;
use std::fmt::Write;

/// One fault the nemesis injected, as `nemesis.jsonl` records it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct FaultSpan {
    pub fault: String,
    /// The broker it struck (`None`: the controller, or the whole cluster).
    #[serde(default)]
    pub broker: Option<u64>,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// `nemesis.jsonl`: one fault per line.
pub fn parse_nemesis(text: &str) -> Result<Vec<FaultSpan>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: FaultSpan =
                serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
            if f.end_ns < f.start_ns {
                return Err(format!("line {}: the fault ends before it starts", i + 1));
            }
            Ok(f)
        })
        .collect()
}

/// The time span every plot shares, and how it maps to pixels.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub start: u64,
    pub end: u64,
    pub left: f64,
    pub width: f64,
}

impl Frame {
    pub fn of(ops: &[Op], faults: &[FaultSpan], left: f64, width: f64) -> Frame {
        let starts = ops
            .iter()
            .map(|o| o.times().0)
            .chain(faults.iter().map(|f| f.start_ns));
        let ends = ops
            .iter()
            .map(|o| o.times().1)
            .chain(faults.iter().map(|f| f.end_ns));
        let start = starts.min().unwrap_or(0);
        let end = ends.max().unwrap_or(1).max(start + 1);
        Frame {
            start,
            end,
            left,
            width,
        }
    }

    pub fn x(&self, t: u64) -> f64 {
        self.left
            + (t.saturating_sub(self.start)) as f64 * self.width / (self.end - self.start) as f64
    }
}

/// A fault's colour class: one per kind of fault.
fn class(fault: &str) -> String {
    let kind: String = fault
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("band f-{kind}")
}

pub const STYLE: &str = "rect.band{fill:#f4c86a;opacity:.35}rect.f-kill,rect.f-stale-kill,rect.f-controller-kill{fill:#d0021b;opacity:.18}\
rect.f-power,rect.f-stale-power,rect.f-restart-all{fill:#7b1fa2;opacity:.18}rect.f-partition,rect.f-split{fill:#1f5fa2;opacity:.18}\
rect.f-pause{fill:#888;opacity:.25}rect.f-shutdown,rect.f-rebalance{fill:#2e9e4f;opacity:.18}\
text.band{font-size:10px;fill:#333}line.tick{stroke:#ccc}text.tick{font-size:10px;fill:#555}\
circle.ok{fill:#2e9e4f}circle.fail{fill:#888}circle.info{fill:#e0a000}rect.pt.ok{fill:#2e9e4f}rect.pt.fail{fill:#888}rect.pt.info{fill:#e0a000}\
polyline{fill:none;stroke-width:1.8}polyline.append-ok{stroke:#2e9e4f}polyline.append-other{stroke:#d0021b}polyline.poll-ok{stroke:#1f5fa2}";

/// Shaded bands for every fault over `[top, top + height)`, each
/// labelled with its fault and broker at `label_y`.
pub fn bands(
    page: &mut String,
    frame: &Frame,
    faults: &[FaultSpan],
    top: usize,
    height: usize,
    labels: bool,
) {
    for (i, f) in faults.iter().enumerate() {
        let (a, b) = (frame.x(f.start_ns), frame.x(f.end_ns));
        let who = f.broker.map_or(String::new(), |b| format!(" broker {b}"));
        let _ = write!(
            page,
            "<rect class='{}' x={a:.1} y={top} width={:.1} height={height}><title>{}{who}: {:.3} s to {:.3} s</title></rect>",
            class(&f.fault),
            (b - a).max(2.0),
            f.fault,
            secs(frame, f.start_ns),
            secs(frame, f.end_ns)
        );
        if labels {
            // Stagger the labels so neighbours do not overwrite each other.
            let y = top + 10 + (i % 3) * 11;
            let _ = write!(
                page,
                "<text class=band x={:.1} y={y}>{}{who}</text>",
                a + 2.0,
                f.fault
            );
        }
    }
}

fn secs(frame: &Frame, t: u64) -> f64 {
    t.saturating_sub(frame.start) as f64 / 1e9
}

/// A step between ticks of about a tenth of `span` seconds: 1, 2 or 5
/// times a power of ten.
fn tick_step(span: f64) -> f64 {
    let raw = (span / 10.0).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// The time axis: a labelled tick every few seconds, gridlines from `top`
/// down to `y`.
pub fn axis(page: &mut String, frame: &Frame, top: usize, y: usize) {
    let span = (frame.end - frame.start) as f64 / 1e9;
    let step = tick_step(span);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let x = frame.left + t / span * frame.width;
        let label = if step >= 1.0 {
            format!("{t:.0} s")
        } else {
            format!("{:.0} ms", t * 1000.0)
        };
        let _ = write!(
            page,
            "<line class=tick x1={x:.1} x2={x:.1} y1={top} y2={y} />\
             <text class=tick x={x:.1} y={} text-anchor=middle>{label}</text>",
            y + 12
        );
        t += step;
    }
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

const PLOT: usize = 200;

/// Each operation's latency against when it was invoked, on a log scale.
pub fn latency(page: &mut String, frame: &Frame, ops: &[Op], faults: &[FaultSpan]) {
    let lat = |o: &Op| {
        let (a, b) = o.times();
        (b.saturating_sub(a)).max(1) as f64 / 1e6
    };
    let lo = ops.iter().map(lat).fold(f64::MAX, f64::min).min(1.0);
    let hi = ops.iter().map(lat).fold(0.0, f64::max).max(lo * 10.0);
    let y = |ms: f64| {
        let f = (ms.log10() - lo.log10()) / (hi.log10() - lo.log10());
        10.0 + (1.0 - f) * (PLOT as f64 - 20.0)
    };
    let _ = write!(
        page,
        "<h2>Latency</h2><p>Each operation's latency (invocation to completion, log scale) \
         against when it was invoked: circles are appends, squares polls; green ok, grey \
         failed, amber unknown. Shaded: the faults.</p>\
         <svg class=latency width={} height={} xmlns='http://www.w3.org/2000/svg'>",
        frame.left + frame.width + 10.0,
        PLOT + 20
    );
    bands(page, frame, faults, 0, PLOT, false);
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        if decade >= lo {
            let yy = y(decade);
            let _ = write!(
                page,
                "<line class=tick x1={} x2={} y1={yy:.1} y2={yy:.1} /><text class=tick x=2 y={:.1}>{} ms</text>",
                frame.left,
                frame.left + frame.width,
                yy + 3.0,
                decade
            );
        }
        decade *= 10.0;
    }
    for o in ops.iter().take(super::html::TIMELINE_MAX) {
        let (x, yy) = (frame.x(o.times().0), y(lat(o)));
        let c = outcome_class(o.outcome());
        match o {
            Op::Append { .. } => {
                let _ = write!(page, "<circle class={c} cx={x:.1} cy={yy:.1} r=2.2 />");
            }
            Op::Poll { .. } => {
                let _ = write!(
                    page,
                    "<rect class='pt {c}' x={:.1} y={:.1} width=4 height=4 />",
                    x - 2.0,
                    yy - 2.0
                );
            }
        }
    }
    axis(page, frame, PLOT, PLOT);
    page.push_str("</svg>");
}

/// Completed operations per second, by kind and outcome, in buckets of a
/// sixtieth of the run.
pub fn rate(page: &mut String, frame: &Frame, ops: &[Op], faults: &[FaultSpan]) {
    const BUCKETS: usize = 60;
    let width = (frame.end - frame.start).div_ceil(BUCKETS as u64).max(1);
    let mut series = [[0u32; BUCKETS]; 3];
    for o in ops {
        let i = (((o.times().1.saturating_sub(frame.start)) / width) as usize).min(BUCKETS - 1);
        let s = match (o, o.outcome()) {
            (Op::Append { .. }, Outcome::Ok) => 0,
            (Op::Append { .. }, _) => 1,
            (Op::Poll { .. }, _) => 2,
        };
        series[s][i] += 1;
    }
    let per_sec = |n: u32| n as f64 * 1e9 / width as f64;
    let max = series
        .iter()
        .flatten()
        .map(|n| per_sec(*n))
        .fold(1.0, f64::max);
    let _ = write!(
        page,
        "<h2>Throughput</h2><p>Operations completed per second (peak {max:.0}/s): green \
         acknowledged appends, red appends that failed or whose outcome is unknown, blue \
         polls. Shaded: the faults.</p>\
         <svg class=rate width={} height={} xmlns='http://www.w3.org/2000/svg'>",
        frame.left + frame.width + 10.0,
        PLOT + 20
    );
    bands(page, frame, faults, 0, PLOT, false);
    for (s, class) in series.iter().zip(["append-ok", "append-other", "poll-ok"]) {
        let points: Vec<String> = s
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let t = frame.start + i as u64 * width + width / 2;
                let y = 10.0 + (1.0 - per_sec(*n) / max) * (PLOT as f64 - 20.0);
                format!("{:.1},{y:.1}", frame.x(t))
            })
            .collect();
        let _ = write!(
            page,
            "<polyline class={class} points='{}' />",
            points.join(" ")
        );
    }
    axis(page, frame, PLOT, PLOT);
    page.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(10.0), 1.0);
        assert_eq!(tick_step(35.0), 5.0);
        assert_eq!(tick_step(0.3), 0.05);
    }

    #[test]
    fn a_malformed_nemesis_line_is_named() {
        let e =
            parse_nemesis("{\"fault\":\"kill\",\"start_ns\":1,\"end_ns\":2}\n{oops").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse_nemesis("{\"fault\":\"kill\",\"start_ns\":5,\"end_ns\":2}").unwrap_err();
        assert!(e.contains("ends before it starts"), "{e}");
    }
}
