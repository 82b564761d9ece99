//! The advice as people read it (a text or Markdown table) and as machines
//! do (JSON).

use super::{Advice, Candidate, Question, Row, diff};
use crate::model::CrashMode;
use crate::model::properties::{ACKED_NEVER_LOST, NO_DUPLICATES, WRITES_AVAILABLE};
use crate::scenario::Verdict;
use std::fmt::Write;

fn faults(q: &Question) -> String {
    let crash = match q.crash_mode {
        CrashMode::Machine => "power loss",
        CrashMode::Process => "kill -9",
    };
    format!(
        "{} broker crash{} ({crash})",
        q.tolerate,
        if q.tolerate == 1 { "" } else { "es" }
    )
}

fn header(q: &Question) -> String {
    format!(
        "Kafka {}, {} replicas, surviving {}.\n\
         A row passes when {ACKED_NEVER_LOST} holds under {} and {} lag removal{} \
         (every acknowledged record stays in the leader's log) and {WRITES_AVAILABLE} \
         holds under {} alone (every record sent is acknowledged once nothing is in \
         flight). {} records, one retry each; {NO_DUPLICATES} is shown, not required. \
         \"-\": not decided, because the row had already failed (availability is \
         checked first, and a durability check stops at the first lost record).\n",
        q.release,
        q.replicas,
        faults(q),
        faults(q),
        q.lag_removals,
        if q.lag_removals == 1 { "" } else { "s" },
        faults(q),
        q.records,
    )
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn flush(c: &Candidate) -> String {
    match c.flush_every {
        None => "OS decides".into(),
        Some(1) => "every record".into(),
        Some(n) => format!("every {n} records"),
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "yes",
        Verdict::Violated => "NO",
        Verdict::Unknown => "-",
    }
}

const HEADINGS: [&str; 9] = [
    "acks",
    "min.insync.replicas",
    "idempotence",
    "fsync",
    "ELR",
    "unclean",
    "keeps acked",
    "writable",
    "no duplicates",
];

fn cells(r: &Row) -> [String; 9] {
    let c = &r.candidate;
    [
        c.acks.to_string(),
        c.min_isr.to_string(),
        on(c.idempotence).into(),
        flush(c),
        on(c.elr).into(),
        on(c.unclean).into(),
        mark(r.keeps_acknowledged).into(),
        mark(r.writable).into(),
        mark(r.no_duplicates).into(),
    ]
}

fn table(rows: &[&Row], numbered: bool, extra: &str, extra_of: &dyn Fn(&Row) -> String) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut head: Vec<String> = Vec::new();
    if numbered {
        head.push("#".into());
    }
    head.extend(HEADINGS.iter().map(|h| h.to_string()));
    head.push(extra.into());
    lines.push(head);
    for (i, r) in rows.iter().enumerate() {
        let mut l = Vec::new();
        if numbered {
            l.push((i + 1).to_string());
        }
        l.extend(cells(r));
        l.push(extra_of(r));
        lines.push(l);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for l in &lines {
        let cols: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(s, "  {}", cols.join("  ").trim_end());
    }
    s
}

fn yours(r: &Row) -> String {
    if r.yours {
        "<- yours".into()
    } else {
        String::new()
    }
}

pub fn to_text(a: &Advice) -> String {
    let mut s = header(&a.question);
    let passing: Vec<&Row> = a.rows.iter().filter(|r| r.passes).collect();
    let undecided: Vec<&Row> = a
        .rows
        .iter()
        .filter(|r| !r.passes && r.breaks.is_none())
        .collect();
    let rejected: Vec<&Row> = a.rows.iter().filter(|r| r.breaks.is_some()).collect();
    let _ = writeln!(s);
    if passing.is_empty() {
        let _ = writeln!(
            s,
            "No combination keeps every acknowledged record and stays writable under {}.",
            faults(&a.question)
        );
    } else {
        let _ = writeln!(
            s,
            "Keep every acknowledged record and stay writable ({} of {}), cheapest first \
             (fewest fsyncs, then the smallest acks, then the lowest min.insync.replicas):",
            passing.len(),
            a.rows.len()
        );
        s.push_str(&table(&passing, true, "", &yours));
        if let Some(best) = a.recommended() {
            let _ = writeln!(s, "\nAdvised: {}", settings_line(&best.candidate));
            let _ = writeln!(s, "  re-check it: {}", best.durability_command);
        }
    }
    if !a.changes.is_empty() {
        let _ = writeln!(s, "\nWhat to change in your configuration:");
        s.push_str(&diff::to_text(&a.changes));
    } else if a.rows.iter().any(|r| r.yours && r.passes) {
        let _ = writeln!(s, "\nYour settings pass; nothing to change.");
    }
    if !undecided.is_empty() {
        let _ = writeln!(
            s,
            "\nUndecided ({}): the check stopped (--seconds) before it was done.",
            undecided.len()
        );
        s.push_str(&table(&undecided, false, "", &yours));
    }
    if !rejected.is_empty() {
        let _ = writeln!(
            s,
            "\nRejected ({}), with the property each breaks; the command prints the \
             shortest counterexample as a story:",
            rejected.len()
        );
        let breaks = |r: &Row| {
            let b = r.breaks.as_ref().expect("rejected rows break something");
            format!("{}{}", b.property, if r.yours { " <- yours" } else { "" })
        };
        s.push_str(&table(&rejected, false, "breaks", &breaks));
        let _ = writeln!(s, "\n  Counterexamples:");
        for r in &rejected {
            let b = r.breaks.as_ref().expect("rejected rows break something");
            let _ = writeln!(s, "  {}: {}", settings_line(&r.candidate), b.command);
        }
    }
    s
}

fn settings_line(c: &Candidate) -> String {
    format!(
        "acks={} min.insync.replicas={} enable.idempotence={} fsync: {} ELR {} unclean.leader.election.enable={}",
        c.acks,
        c.min_isr,
        c.idempotence,
        flush(c),
        on(c.elr),
        c.unclean
    )
}

pub fn to_markdown(a: &Advice) -> String {
    let mut s = header(&a.question);
    let _ = writeln!(s);
    let mut head: Vec<&str> = HEADINGS.to_vec();
    head.push("verdict");
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for r in &a.rows {
        let verdict = match &r.breaks {
            _ if r.passes => "**passes**".to_string(),
            Some(b) => format!("breaks `{}`: `{}`", b.property, b.command),
            None => "undecided".into(),
        };
        let mut l: Vec<String> = cells(r).to_vec();
        l.push(format!(
            "{verdict}{}",
            if r.yours { " (yours)" } else { "" }
        ));
        let _ = writeln!(s, "| {} |", l.join(" | "));
    }
    if !a.changes.is_empty() {
        let _ = writeln!(
            s,
            "\nWhat to change:\n\n```\n{}```",
            diff::to_text(&a.changes)
        );
    }
    s
}

pub fn to_json(a: &Advice) -> Result<String, String> {
    let mut v = serde_json::to_value(a).map_err(|e| e.to_string())?;
    if let Some(o) = v.as_object_mut() {
        let best = a
            .recommended()
            .map(|r| serde_json::to_value(r).unwrap_or_default());
        o.insert("recommended".into(), best.unwrap_or_default());
        // The line the text output prints after "Advised: ".
        let line = a.recommended().map(|r| settings_line(&r.candidate));
        o.insert("advised".into(), line.into());
    }
    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())
}

/// The advice as a page: the table, each rejected row linking to the
/// chart of the counterexample its check met.
pub fn to_html(a: &Advice) -> String {
    use crate::check::html::{chart, esc, page_start};
    let mut page = page_start("insync advise");
    let _ = write!(page, "<p>{}</p>", esc(&header(&a.question)));
    page.push_str("<table class=advice><tr><th>#</th>");
    for h in HEADINGS {
        let _ = write!(page, "<th>{}</th>", esc(h));
    }
    page.push_str("<th>verdict</th></tr>");
    let mut charts = String::new();
    for (i, r) in a.rows.iter().enumerate() {
        let _ = write!(page, "<tr><td>{}</td>", i + 1);
        for c in cells(r) {
            let _ = write!(page, "<td>{}</td>", esc(&c));
        }
        let yours = if r.yours { " (yours)" } else { "" };
        let verdict = match &r.breaks {
            _ if r.passes => "<span class=holds>passes</span>".to_string(),
            Some(b) => {
                let id = format!("row-{}", i + 1);
                let title = format!("#{}: {}: ", i + 1, settings_line(&r.candidate));
                match &b.found {
                    Some(p) if p.counterexample.is_some() => {
                        chart(&mut charts, &id, &title, p);
                        let _ = write!(
                            charts,
                            "<p>The check stopped at this one; for the shortest: <code>{}</code></p>",
                            esc(&b.command)
                        );
                        format!("<a class=violated href='#{id}'>breaks {}</a>", b.property)
                    }
                    _ => format!("<span class=violated>breaks {}</span>", b.property),
                }
            }
            None => "undecided".into(),
        };
        let _ = write!(page, "<td>{verdict}{yours}</td></tr>");
    }
    page.push_str("</table>");
    page.push_str(&charts);
    page.push_str("</body></html>\n");
    page
}
