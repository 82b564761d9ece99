//! Checks every scenario in `models/` exhaustively against its `[expect]`,
//! pins the seed scenarios' state counts and counterexample lengths, and
//! fails when the README's table drifts from what the checker decides.

use insync::check::report::Report;
use insync::check::{self, CheckOptions};
use insync::matrix;
use insync::model::properties::{ACKED_NEVER_LOST, WRITES_AVAILABLE};
use insync::scenario::{Scenario, load_dir};
use std::collections::HashMap;
use std::path::Path;

/// Unique states (with the broker symmetry reduction, clients first and
/// ignored messages dropped, one worker) of the seed scenarios and a few others.
const PINNED_STATES: &[(&str, usize)] = &[
    ("seed-acks0-isr1-process", 11_864),
    ("seed-acks1-isr1-process", 24_837),
    ("seed-acksall-isr1-process", 8_022),
    ("seed-acksall-isr2-process", 8_022),
    ("seed-acksall-isr3-process", 11_580),
    ("seed-acksall-isr2-machine", 218_176),
    ("follower-fetch-before-leader-and-isr", 46_801),
    ("two-power-losses-isr2-machine", 228_625),
    ("rf5-two-power-losses-isr3-machine", 9_921_583),
];

/// Shortest counterexample lengths.
const PINNED_LENGTHS: &[(&str, &str, usize)] = &[
    ("seed-acks1-isr1-process", ACKED_NEVER_LOST, 10),
    ("seed-acksall-isr3-process", WRITES_AVAILABLE, 13),
    ("seed-acksall-isr2-machine", ACKED_NEVER_LOST, 22),
    ("rf5-two-power-losses-isr3-machine", WRITES_AVAILABLE, 5),
];

/// Every catalogue scenario's report by name, and one report per job of
/// the seed table's plan (every cell at every release). Both go to one
/// batch, so a plan job that asks a catalogue scenario's question is
/// checked once and the workers stay busy to the end.
fn check_all() -> (
    HashMap<String, (Scenario, Report)>,
    matrix::Plan,
    Vec<Report>,
) {
    let scenarios = load_dir(Path::new("models")).expect("the catalogue loads");
    assert!(!scenarios.is_empty(), "models/ holds scenarios");
    let plan = matrix::plan(Path::new("models"), None).expect("the seed table's scenarios exist");
    let mut batch = scenarios.clone();
    batch.extend(plan.jobs.iter().cloned());
    let t = std::time::Instant::now();
    // The scenarios are checked to the end; a plan job that only decides
    // other releases may stop at its cells' first violation.
    let n = scenarios.len();
    let enough = |i: usize| {
        if i < n {
            Vec::new()
        } else {
            plan.enough(i - n)
        }
    };
    let mut reports = check::batch::run_many_enough(&batch, &enough, &CheckOptions::default());
    eprintln!(
        "{} scenarios and {} table checks in {:.1} s",
        scenarios.len(),
        plan.jobs.len(),
        t.elapsed().as_secs_f64()
    );
    let table = reports.split_off(scenarios.len());
    let mut out = HashMap::new();
    for (s, report) in scenarios.into_iter().zip(reports) {
        eprintln!(
            "{:<40} {:>9} unique states {:>6.1} s",
            s.name, report.unique_states, report.seconds
        );
        out.insert(s.name.clone(), (s, report));
    }
    (out, plan, table)
}

#[test]
fn the_catalogue_matches_its_expectations_and_the_readme() {
    let (all, plan, reports) = check_all();
    let mut failures = Vec::new();
    for (name, (s, r)) in &all {
        for p in &r.properties {
            match p.expected {
                None => failures.push(format!("{name}: [expect] has no verdict for {}", p.name)),
                Some(e) if e != p.verdict => failures.push(format!(
                    "{name}: {} is {} but [expect] says {e}",
                    p.name, p.verdict
                )),
                _ => {}
            }
        }
        assert!(
            !s.why.trim().is_empty() && !s.why.contains("TODO"),
            "{name}: write why"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    for (name, states) in PINNED_STATES {
        let (_, r) = &all[*name];
        assert_eq!(r.unique_states, *states, "{name}: unique states");
    }
    for (name, property, len) in PINNED_LENGTHS {
        let (_, r) = &all[*name];
        let c = r.property(property).and_then(|p| p.counterexample.as_ref());
        assert_eq!(
            c.map(|c| c.length),
            Some(*len),
            "{name}: {property} counterexample length"
        );
    }
    // The canonical loss hinges on an acknowledgement a Kafka user would
    // call wrong; its story says why it is not.
    let (_, r) = &all["seed-acksall-isr2-machine"];
    let steps = &r
        .property(ACKED_NEVER_LOST)
        .unwrap()
        .counterexample
        .as_ref()
        .unwrap()
        .steps;
    assert!(
        steps.iter().any(|s| s.contains("acknowledges offset 0")
            && s.contains("judges acks=all by the ISR it knows")),
        "{steps:#?}"
    );

    // The newest release's table, and each cell at every other release.
    let m = matrix::assemble(&plan, &reports).expect("every cell decided");
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let table = readme
        .split("<!-- matrix:begin -->")
        .nth(1)
        .and_then(|t| t.split("<!-- matrix:end -->").next())
        .expect("README.md has the matrix markers");
    assert_eq!(
        table.trim(),
        m.to_markdown().trim(),
        "README.md's table differs from what the checker decides; regenerate it with `insync matrix --format markdown`"
    );
}
