//! `insync crosscheck`: the model's counterexample, replayed as a fault
//! schedule on the real cluster, loses acknowledged records there too, and
//! a random walk that keeps them is matched by a run that keeps them.

mod common;

use serde_json::Value;
use std::process::Command;

/// `insync crosscheck SCENARIO --walks N --ops 300 --format json` into
/// `out`: the process's output and its parsed report.
fn crosscheck_json(
    scenario: &str,
    walks: &str,
    out: &std::path::Path,
) -> (std::process::Output, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["crosscheck", scenario, "--walks", walks, "--ops", "300"])
        .args(["--format", "json", "--quiet", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let r: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&o.stderr)));
    (o, r)
}

#[test]
fn the_models_counterexample_and_a_random_walk_match_the_cluster() {
    let out = common::scratch("crosscheck-acks1");
    let (o, r) = crosscheck_json("models/crosscheck-acks1-kill.toml", "1", &out);
    let walks = r["walks"].as_array().unwrap();
    assert_eq!(walks.len(), 2, "{r:#}");
    let cx = &walks[0];
    assert_eq!(cx["kind"], "counterexample");
    assert_eq!(cx["model"], "acked record lost");
    assert_eq!(cx["faults"][0]["fault"], "stale-kill", "{r:#}");
    assert_eq!(cx["faults"][0]["role"], "leader");
    assert!(
        cx["cluster"]
            .as_str()
            .unwrap()
            .ends_with("acknowledged records lost"),
        "{r:#}"
    );
    assert_eq!(cx["traces_conform"], true);
    for w in walks {
        assert_eq!(w["agree"], true, "{r:#}");
    }
    assert_eq!(o.status.code(), Some(0));
}

/// The model's network partition is the cluster's `split`: the zombie
/// leader its clients still reach acknowledges at acks=1 what the new
/// leader never had, on both sides.
#[test]
fn a_zombie_leader_loses_acknowledged_writes_in_the_model_and_on_the_cluster() {
    let out = common::scratch("crosscheck-zombie");
    let (o, r) = crosscheck_json("models/network-partition-acks1.toml", "0", &out);
    let cx = &r["walks"][0];
    assert_eq!(cx["kind"], "counterexample", "{r:#}");
    assert_eq!(cx["faults"][0]["fault"], "split", "{r:#}");
    assert_eq!(cx["faults"][0]["role"], "leader", "{r:#}");
    assert_eq!(cx["model"], "acked record lost");
    assert!(
        cx["cluster"]
            .as_str()
            .unwrap()
            .ends_with("acknowledged records lost"),
        "{r:#}"
    );
    assert_eq!(cx["verdict"], "agree", "{r:#}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn what_the_cluster_cannot_show_is_refused_and_says_why() {
    let o = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args([
            "crosscheck",
            "models/seed-acks0-isr1-machine.toml",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("acks=0 has no acknowledgement"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args([
            "crosscheck",
            "models/kip101-high-watermark-truncation.toml",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not run HW truncation"), "{err}");
}
