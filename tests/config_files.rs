//! A user's own Kafka configuration (`--broker-config`, `--topic-config`,
//! `--producer-config`) gives the same check as the flags it stands for,
//! accounts for every key, and names the file, line and key of a bad one.

mod common;

use common::insync;
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let (code, out, err) = insync(args);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    serde_json::from_str(&out).expect("JSON on stdout")
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The faults are the model's, not the files': the same for both runs.
const FAULTS: &[&str] = &["--crash-mode", "process", "--lag-removals", "1"];

/// `insync check ARGS` with one process crash and no lag removal, as JSON.
fn small_check(args: &[&str]) -> Value {
    let mut all = vec!["check"];
    all.extend(args);
    all.extend([
        "--crash-mode",
        "process",
        "--lag-removals",
        "0",
        "--format",
        "json",
        "--quiet",
    ]);
    json(&all)
}

#[test]
fn the_example_files_check_as_the_equivalent_flags() {
    let mut files = vec![
        "check",
        "--broker-config",
        "examples/server.properties",
        "--producer-config",
        "examples/producer.properties",
        "--format",
        "json",
        "--quiet",
    ];
    files.extend(FAULTS);
    let mut flags = vec![
        "check",
        "--acks",
        "all",
        "--idempotence",
        "--rf",
        "3",
        "--min-isr",
        "2",
        "--unclean=false",
        "--retries",
        "1",
        "--format",
        "json",
        "--quiet",
    ];
    flags.extend(FAULTS);
    // One worker: with several, client-first and sleep sets may keep a few
    // classes more or fewer from run to run (README, "On every core").
    for args in [&mut files, &mut flags] {
        args.extend(["--threads", "1"]);
    }
    let (a, b) = (json(&files), json(&flags));
    assert_eq!(a["config"], b["config"]);
    assert_eq!(verdicts(&a), verdicts(&b));
    assert_eq!(a["unique_states"], b["unique_states"]);
    // Every key of the examples is accounted for, none misunderstood.
    let read = &a["config_files"];
    assert_eq!(read["not_understood"], Value::Array(vec![]), "{read}");
    let keys: Vec<&str> = read["read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    for k in [
        "min.insync.replicas",
        "default.replication.factor",
        "acks",
        "retries",
    ] {
        assert!(keys.contains(&k), "{k} not read: {keys:?}");
    }
    assert!(read["ignored"].as_array().unwrap().len() > 20);
}

#[test]
fn a_topic_setting_overrides_the_brokers_and_a_flag_overrides_both() {
    let base = [
        "--broker-config",
        "min.insync.replicas=1",
        "--broker-config",
        "default.replication.factor=3",
        "--topic-config",
        "examples/topic-describe.txt",
    ];
    let v = small_check(&base);
    assert_eq!(v["config"]["min.insync.replicas"], 2, "the topic's 2 wins");
    let mut with_flag = base.to_vec();
    with_flag.extend(["--min-isr", "3"]);
    assert_eq!(small_check(&with_flag)["config"]["min.insync.replicas"], 3);
}

#[test]
fn what_no_file_names_takes_kafkas_default() {
    let v = small_check(&["--producer-config", "acks=1"]);
    // Kafka's defaults, not the model's canonical RF=3 and min ISR 2.
    assert_eq!(v["config"]["replication.factor"], 1);
    assert_eq!(v["config"]["min.insync.replicas"], 1);
    // acks other than all turns the default idempotence off.
    assert_eq!(v["config"]["enable.idempotence"], false);
    let defaults = v["config_files"]["defaults"].to_string();
    assert!(
        defaults.contains("default.replication.factor=1"),
        "{defaults}"
    );
}

#[test]
fn a_typo_is_not_understood_and_a_near_key_is_suggested() {
    let (_, _, err) = insync(&[
        "check",
        "--broker-config",
        "min.insync.replica=2",
        "--broker-config",
        "default.replication.factor=2",
        "--crash-mode",
        "process",
        "--lag-removals",
        "0",
    ]);
    assert!(err.contains("Not understood (1)"), "{err}");
    assert!(err.contains("did you mean min.insync.replicas?"), "{err}");
}

#[test]
fn a_bad_value_names_the_file_the_line_and_the_key() {
    let dir = common::scratch("config-files");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("producer.properties");
    std::fs::write(&bad, "acks=all\n# retries below\nretries=three\n").unwrap();
    let (code, _, err) = insync(&["check", "--producer-config", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("producer.properties:3: retries: expected a whole number"),
        "{err}"
    );
    // Kafka's producer refuses an explicit idempotence with acks=1.
    let (code, _, err) = insync(&[
        "check",
        "--producer-config",
        "acks=1",
        "--producer-config",
        "enable.idempotence=true",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("enable.idempotence: needs acks=all"), "{err}");
    let (code, _, err) = insync(&["check", "--topic-config", "min.insync.replicas=0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("min.insync.replicas=0") || err.contains("at least 1"),
        "{err}"
    );
    let (code, _, err) = insync(&["check", "--broker-config", "no-such-server.properties"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no-such-server.properties: cannot read"),
        "{err}"
    );
}
