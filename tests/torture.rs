//! `insync torture` end to end: real broker processes under faults, then
//! the history checked. acks=all with min.isr=2 must come through kill and
//! partition faults clean; acks=1 with the fault hook must lose writes the
//! checker finds.

mod common;

use serde_json::Value;
use std::process::Command;

fn torture(args: &[&str], out: &std::path::Path) -> (i32, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_insync"))
        .arg("torture")
        .args(args)
        .args(["--format", "json", "--quiet", "--out"])
        .arg(out)
        .output()
        .expect("insync runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), json)
}

fn kinds(report: &Value) -> Vec<String> {
    report["report"]["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A seeded acks=all, min.insync.replicas=2 run under `nemesis`: no
/// anomaly, linearizable, traces that conform, and enough acknowledged to
/// mean something, all of it read back.
fn clean_acks_all_run(nemesis: &str, seed: &str, out: &std::path::Path) -> Value {
    clean_acks_all_run_of(nemesis, seed, "600", out)
}

fn clean_acks_all_run_of(nemesis: &str, seed: &str, ops: &str, out: &std::path::Path) -> Value {
    let (code, r) = torture(
        &[
            "--acks",
            "all",
            "--min-isr",
            "2",
            "--nemesis",
            nemesis,
            "--ops",
            ops,
            "--seed",
            seed,
        ],
        out,
    );
    assert_eq!(kinds(&r), Vec::<String>::new(), "{r:#}");
    assert_eq!(r["report"]["valid"], true, "{r:#}");
    assert_eq!(r["trace"]["conforms"], true, "{r:#}");
    assert_eq!(code, 0);
    let ok = r["appends"]["ok"].as_u64().unwrap();
    assert!(ok > 100, "too few appends acknowledged to mean much: {r:#}");
    assert!(r["records_read_back"].as_u64().unwrap() >= ok, "{r:#}");
    r
}

#[test]
fn acks_all_min_isr_2_under_kill_and_partition_has_no_anomaly() {
    let _one = common::serial();
    let out = common::scratch("torture-acks-all");
    let r = clean_acks_all_run("kill,partition", "7", &out);
    assert!(r["faults"].as_u64().unwrap() >= 2, "{r:#}");
    assert!(out.join("history.jsonl").exists());
    // The history the run wrote checks the same way on its own.
    let again = Command::new(env!("CARGO_BIN_EXE_insync"))
        .arg("lincheck")
        .arg(out.join("history.jsonl"))
        .status()
        .unwrap();
    assert_eq!(again.code(), Some(0));
    let traces = Command::new(env!("CARGO_BIN_EXE_insync"))
        .arg("conform")
        .arg(out.join("traces"))
        .status()
        .unwrap();
    assert_eq!(traces.code(), Some(0));
}

#[test]
fn acks_1_with_the_fault_hook_loses_acknowledged_writes() {
    let _one = common::serial();
    let out = common::scratch("torture-acks-1");
    let (code, r) = torture(
        &[
            "--acks",
            "1",
            "--nemesis",
            "stale-kill",
            "--ops",
            "400",
            "--seed",
            "7",
        ],
        &out,
    );
    assert!(kinds(&r).iter().any(|k| k == "lost-write"), "{r:#}");
    assert_eq!(r["report"]["valid"], false);
    // Losing those writes is a step acks=1 allows: the traces conform.
    assert_eq!(r["trace"]["conforms"], true, "{r:#}");
    assert_eq!(code, 1);
}

/// The faults that move leaders with no crash: controlled shutdowns (a
/// rolling restart), leadership moved to another ISR member, a broker cut
/// off both ways, and a zombie leader its clients still reach. With
/// acks=all and min.insync.replicas=2 none of them loses anything.
#[test]
fn acks_all_min_isr_2_under_shutdown_rebalance_partition_and_split_has_no_anomaly() {
    let _one = common::serial();
    let out = common::scratch("torture-leader-moves");
    clean_acks_all_run_of("shutdown,rebalance,partition,split", "6", "1000", &out);
    let log: Vec<Value> = std::fs::read_to_string(out.join("nemesis.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for fault in ["shutdown", "rebalance", "partition", "split"] {
        assert!(
            log.iter().any(|f| f["fault"] == fault),
            "{fault} struck: {log:?}"
        );
    }
    for f in log.iter().filter(|f| f["fault"] == "shutdown") {
        assert_eq!(
            f["notes"][0]["exit"], 0,
            "a controlled shutdown exits 0: {f}"
        );
    }
    assert!(
        log.iter()
            .any(|f| f["fault"] == "rebalance" && f["notes"][0]["leader"].is_u64()),
        "a leader moved with no failure: {log:?}"
    );
}

/// The model's finding on the running cluster: with acks=1, moving
/// leadership with no failure at all loses what the old leader alone had
/// acknowledged (models/preferred-election-acks1.toml).
#[test]
fn acks_1_with_rebalance_alone_loses_acknowledged_writes() {
    let _one = common::serial();
    let out = common::scratch("torture-rebalance-acks-1");
    let (code, r) = torture(
        &[
            "--acks",
            "1",
            "--nemesis",
            "rebalance",
            "--ops",
            "16000",
            "--rate",
            "2000",
            "--clients",
            "12",
            "--seed",
            "1",
        ],
        &out,
    );
    assert!(kinds(&r).iter().any(|k| k == "lost-write"), "{r:#}");
    assert!(r["acked_missing_at_end"].as_u64().unwrap() > 0, "{r:#}");
    assert_eq!(r["report"]["valid"], false);
    assert_eq!(r["trace"]["conforms"], true, "{r:#}");
    assert_eq!(code, 1);
    let log = std::fs::read_to_string(out.join("nemesis.jsonl")).unwrap();
    assert!(
        log.lines().all(|l| l.contains("\"fault\":\"rebalance\"")),
        "nothing but leaders moved: {log}"
    );
}

#[test]
fn an_unknown_fault_is_refused_before_anything_starts() {
    let out = common::scratch("torture-bad");
    let o = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["torture", "--nemesis", "kill,meteor", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown fault \"meteor\""), "{err}");
    assert!(!out.join("history.jsonl").exists());
}

#[test]
fn acks_all_min_isr_2_through_controller_kills_and_whole_cluster_restarts_has_no_anomaly() {
    let _one = common::serial();
    let out = common::scratch("torture-restarts");
    clean_acks_all_run("controller-kill,restart-all", "11", &out);
    let log = std::fs::read_to_string(out.join("nemesis.jsonl")).unwrap();
    for fault in ["controller-kill", "restart-all"] {
        assert!(
            log.contains(&format!("\"fault\":\"{fault}\"")),
            "{fault} struck: {log}"
        );
    }
    let lives = std::fs::read_dir(out.join("traces"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("controller.jsonl.")
        })
        .count();
    assert!(
        lives >= 2,
        "the controller restarted: {lives} trace file(s)"
    );
}
