//! The binary's contract: exit codes, error messages naming file and key,
//! and the JSON fields other tools parse.

mod common;

use common::{LONG_SEARCH, insync};

fn scenario(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("insync-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

const SMALL: &str = "why = \"small\"\n[kafka]\nacks = 1\n\"replication.factor\" = 2\n\"min.insync.replicas\" = 1\nretries = 0\n[model]\nrecords = 1\ncrash_mode = \"process\"\nlag_removals = 0\n";

#[test]
fn bad_input_exits_2_naming_file_key_and_reason() {
    let p = scenario(
        "bad-isr.toml",
        "why = \"x\"\n[kafka]\n\"min.insync.replicas\" = 0\n",
    );
    let (code, _, err) = insync(&["check", &p, "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-isr.toml") && err.contains("min.insync.replicas: must be at least 1"),
        "{err}"
    );

    let p = scenario(
        "bad-key.toml",
        "why = \"x\"\n[kafka]\nacks = 1\nlinger = 5\n",
    );
    let (code, _, err) = insync(&["check", &p, "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-key.toml") && err.contains("linger"),
        "{err}"
    );

    let (code, _, err) = insync(&["check", "--acks", "2", "--quiet"]);
    assert_eq!(code, 2);
    assert!(err.contains("acks"), "{err}");

    let (code, _, err) = insync(&["check", "--min-isr", "0", "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("min.insync.replicas: must be at least 1"),
        "{err}"
    );

    let p = scenario(
        "bad-fault.toml",
        "why = \"x\"\n[model]\nnetwork_partitions = 21\n",
    );
    let (code, _, err) = insync(&["check", &p, "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-fault.toml") && err.contains("network_partitions"),
        "{err}"
    );
}

#[test]
fn exit_code_says_whether_verdicts_match_expectations() {
    let ok = scenario(
        "ok.toml",
        &format!("{SMALL}[expect]\nacked_never_lost = \"violated\"\n"),
    );
    assert_eq!(insync(&["check", &ok, "--quiet"]).0, 0);
    let wrong = scenario(
        "wrong.toml",
        &format!("{SMALL}[expect]\nacked_never_lost = \"holds\"\n"),
    );
    let (code, out, _) = insync(&["check", &wrong, "--quiet"]);
    assert_eq!(code, 1);
    assert!(out.contains("UNEXPECTED"), "{out}");
}

#[test]
fn json_output_has_the_documented_fields() {
    let p = scenario("json.toml", SMALL);
    let (code, out, _) = insync(&["check", &p, "--format", "json", "--quiet"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    for field in ["config", "properties", "unique_states", "states", "seconds"] {
        assert!(!v[field].is_null(), "{field} is present");
    }
    assert_eq!(v["config"]["acks"], "1");
    assert_eq!(v["config"]["min.insync.replicas"], 1);
    // The fault bounds a machine needs to know what was checked.
    for fault in [
        "crashes",
        "controlled_shutdowns",
        "preferred_elections",
        "network_partitions",
    ] {
        assert!(v["config"][fault].is_u64(), "config.{fault} is reported");
    }
    let lost = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "acked_never_lost")
        .expect("acked_never_lost is reported");
    assert_eq!(lost["verdict"], "violated");
    assert_eq!(lost["expectation"], "always");
    let c = &lost["counterexample"];
    assert_eq!(
        c["length"].as_u64().unwrap() as usize,
        c["steps"].as_array().unwrap().len()
    );
    assert!(c["explorer_path"].as_str().unwrap().starts_with("0/"));
    // acks=1: the step that appends is the one that acknowledges.
    assert!(
        c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("appends r0")
                && s.as_str()
                    .unwrap()
                    .contains("acknowledges offset 0 at once")),
        "{c}"
    );
}

#[test]
fn bench_prints_medians_and_a_ratio_against_the_paxos_baseline() {
    let p = scenario("bench.toml", SMALL);
    let (code, out, err) = insync(&["bench", &p, "--runs", "1", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let base = v["baseline"]["median_states_per_second"].as_f64().unwrap();
    let ours = v["insync"]["median_states_per_second"].as_f64().unwrap();
    assert!(base > 0.0 && ours > 0.0, "{out}");
    let ratio = v["speed_ratio"].as_f64().unwrap();
    assert!((ratio - ours / base).abs() < 1e-9, "{out}");
    assert!(v["baseline"]["runs"][0]["unique_states"].as_u64().unwrap() > 1_000);
    let (code, _, err) = insync(&["bench", &p, "--runs", "0"]);
    assert_eq!(code, 2, "--runs 0 is bad input: {err}");
}

#[test]
fn lincheck_exits_by_what_the_history_shows() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let write = |name: &str, lines: &[&str]| {
        let p = dir.join(name);
        std::fs::write(&p, lines.join("\n")).unwrap();
        p.to_str().unwrap().to_string()
    };
    let a0 = r#"{"process":0,"f":"append","partition":"t-0","value":"a","invoke_ns":1,"complete_ns":2,"type":"ok","offset":0}"#;
    let b1 = r#"{"process":0,"f":"append","partition":"t-0","value":"b","invoke_ns":3,"complete_ns":4,"type":"ok","offset":1}"#;
    let read_all = r#"{"process":1,"f":"poll","partition":"t-0","invoke_ns":5,"complete_ns":6,"type":"ok","records":[[0,"a"],[1,"b"]]}"#;
    let read_b = r#"{"process":1,"f":"poll","partition":"t-0","invoke_ns":5,"complete_ns":6,"type":"ok","records":[[1,"b"]]}"#;
    let (code, out, _) = insync(&["lincheck", &write("valid.jsonl", &[a0, b1, read_all])]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no anomaly"));
    assert!(
        !out.contains("numbered from 0"),
        "no operation named: {out}"
    );
    let (_, out, _) = insync(&["lincheck", &write("lost-text.jsonl", &[a0, b1, read_b])]);
    assert!(out.contains("operations are numbered from 0"), "{out}");
    let (code, out, _) = insync(&[
        "lincheck",
        &write("lost.jsonl", &[a0, b1, read_b]),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["anomalies"][0]["kind"], "lost-write");
    // b is acknowledged at 0 after a was acknowledged at 1, though a ended
    // before b began: no order of the log explains it.
    let a1 = r#"{"process":0,"f":"append","partition":"t-0","value":"a","invoke_ns":1,"complete_ns":2,"type":"ok","offset":1}"#;
    let b0 = r#"{"process":1,"f":"append","partition":"t-0","value":"b","invoke_ns":3,"complete_ns":4,"type":"ok","offset":0}"#;
    let (code, out, _) = insync(&[
        "lincheck",
        &write("order.jsonl", &[a1, b0]),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["partitions"]["t-0"]["verdict"], "not linearizable");
    assert_eq!(
        v["anomalies"],
        serde_json::json!([]),
        "no anomaly class covers it"
    );
    let (code, _, err) = insync(&["lincheck", &write("bad.jsonl", &[a0, "{oops"])]);
    assert_eq!(code, 2);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn conform_exits_by_what_the_traces_show() {
    let dir = std::env::temp_dir().join(format!("insync-cli-conform-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let line = |node: &str, ts: u64, event: &str| {
        format!(
            r#"{{"node":"{node}","topic":"t","partition":0,"ts_us":{ts},"text":"","event":{event}}}"#
        )
    };
    let controller = line(
        "controller",
        1,
        r#"{"type":"LeaderElected","broker":0,"epoch":1,"kind":"Clean","isr":[0,1]}"#,
    );
    std::fs::write(dir.join("controller.jsonl"), controller + "\n").unwrap();
    let lead = line(
        "broker 0",
        2,
        r#"{"type":"BecameLeader","broker":0,"epoch":1,"isr":[0,1],"high_watermark":0}"#,
    );
    let append = line(
        "broker 0",
        3,
        r#"{"type":"LeaderAppend","broker":0,"epoch":1,"offset":0,"record":{"records":1},"high_watermark":0,"flushed":false}"#,
    );
    std::fs::write(dir.join("broker-0.jsonl"), format!("{lead}\n{append}\n")).unwrap();
    let d = dir.to_str().unwrap();
    let (code, out, _) = insync(&["conform", d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all 3 steps allowed"), "{out}");
    // The HW passes a follower in the ISR that never fetched.
    let hw = line(
        "broker 0",
        4,
        r#"{"type":"HighWatermarkAdvanced","broker":0,"high_watermark":1}"#,
    );
    std::fs::write(
        dir.join("broker-0.jsonl"),
        format!("{lead}\n{append}\n{hw}\n"),
    )
    .unwrap();
    let (code, out, _) = insync(&["conform", d, "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["violation"]["rule"], "hw-replicated-to-isr");
    assert_eq!(j["violation"]["line"], 3);
    std::fs::write(dir.join("broker-0.jsonl"), "{\n").unwrap();
    let (code, _, err) = insync(&["conform", d]);
    assert_eq!(code, 2);
    assert!(err.contains("broker-0.jsonl:1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_lincheck_reports_targets_and_the_stateright_baseline() {
    let (code, out, err) = insync(&["bench-lincheck", "--runs", "1", "--ops", "3000", "--quiet"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["baseline"]["histories"], 300, "{err}");
    assert_eq!(v["baseline"]["agreed"], 300, "{out}");
    let lin = v["baseline"]["linearizable"].as_u64().unwrap();
    assert!((60..=240).contains(&lin), "both verdicts occur: {lin}");
    let sr = v["baseline"]["stateright"]["median_seconds"]
        .as_f64()
        .unwrap();
    let ours = v["baseline"]["insync"]["median_seconds"].as_f64().unwrap();
    let ratio = v["baseline"]["speed_ratio"].as_f64().unwrap();
    assert!((ratio - sr / ours).abs() < 1e-6 * ratio, "{out}");
    assert_eq!(v["one_partition_valid"]["ops"], 3000);
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 5);
    let hundred_k = &targets[1];
    assert_eq!(
        hundred_k["met"], false,
        "3,000 operations cannot meet a 100k target"
    );
    assert_eq!(code, 1, "a missed target exits 1");
    let (code, _, _) = insync(&["bench-lincheck", "--runs", "0"]);
    assert_eq!(code, 2);
}

/// The effective settings `check --format json` reports for `args`.
fn effective(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--quiet", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = insync(&all);
    assert!(code == 0 || code == 1, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["config"].clone()
}

#[test]
fn a_kafka_version_fills_what_is_not_named_with_that_releases_rules() {
    let small = scenario("small-versioned.toml", SMALL);
    let pick = |c: &serde_json::Value| {
        (
            c["kafka.version"].as_str().unwrap_or("none").to_string(),
            c["acks"].as_str().unwrap().to_string(),
            c["enable.idempotence"].as_bool().unwrap(),
            c["strict_min_isr"].as_bool().unwrap(),
            c["eligible.leader.replicas.enable"].as_bool().unwrap(),
        )
    };
    let base = [
        "--rf",
        "2",
        "--min-isr",
        "1",
        "--records",
        "1",
        "--crash-mode",
        "process",
        "--lag-removals",
        "0",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        pick(&effective(&a))
    };
    // 2.8: acks=1 by default, nothing else.
    assert_eq!(
        with(&["--kafka-version", "2.8"]),
        ("2.8".into(), "1".into(), false, false, false)
    );
    // 3.0.0 has acks=all by default but not yet idempotence (KAFKA-13598).
    assert_eq!(
        with(&["--kafka-version", "3.0"]),
        ("3.0".into(), "all".into(), false, false, false)
    );
    assert_eq!(
        with(&["--kafka-version", "3.6"]),
        ("3.6".into(), "all".into(), true, false, false)
    );
    assert_eq!(
        with(&["--kafka-version", "3.7"]),
        ("3.7".into(), "all".into(), true, true, false)
    );
    // 4.0 has ELR only when asked for; 4.1 formats new clusters with it.
    assert_eq!(
        with(&["--kafka-version", "4.0"]),
        ("4.0".into(), "all".into(), true, true, false)
    );
    assert_eq!(
        with(&["--kafka-version", "4.1"]),
        ("4.1".into(), "all".into(), true, true, true)
    );
    // A cluster upgraded to 4.1 keeps ELR off; named settings win.
    assert_eq!(
        with(&[
            "--kafka-version",
            "4.1",
            "--elr=false",
            "--strict-min-isr=false"
        ]),
        ("4.1".into(), "all".into(), true, false, false)
    );
    // acks=1 quietly turns the default idempotence off, as Kafka's producer does.
    assert_eq!(
        with(&["--kafka-version", "4.1", "--acks", "1"]),
        ("4.1".into(), "1".into(), false, true, true)
    );
    assert!(!with(&["--kafka-version", "4.1", "--retries", "0"]).2);
    // Without a version, the newest release's rules and defaults apply.
    assert_eq!(with(&[]), ("4.3".into(), "all".into(), true, true, true));
    // The file's named acks=1 stays under a version given by flag.
    assert_eq!(pick(&effective(&[&small, "--kafka-version", "4.1"])).1, "1");
}

#[test]
fn releases_that_cannot_be_are_refused_naming_the_release() {
    let (code, _, err) = insync(&["check", "--kafka-version", "1.1", "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Kafka 1.1 is not modelled") && err.contains("2.5 to 4.3"),
        "{err}"
    );
    let (code, _, err) = insync(&["check", "--kafka-version", "3.6", "--elr", "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("eligible.leader.replicas.enable: Kafka 3.6 has no eligible leader replicas"),
        "{err}"
    );
    let (code, _, err) = insync(&["check", "--kafka-version", "four", "--quiet"]);
    assert_eq!(code, 2);
    assert!(err.contains("3.6, 3.6.2 or 4.3+KAFKA-19996"), "{err}");
    let (code, _, err) = insync(&["check", "--kafka-version", "4.3+KIP-0", "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("\"KIP-0\" is not a proposal insync models (known: KAFKA-19996)"),
        "{err}"
    );
    let p = scenario(
        "version-number.toml",
        "why = \"x\"\n[kafka]\nversion = 4.1\n",
    );
    let (code, _, err) = insync(&["check", &p, "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("version-number.toml") && err.contains("[kafka] version"),
        "{err}"
    );
    let p = scenario(
        "version-old.toml",
        "why = \"x\"\n[kafka]\nversion = \"0.10\"\n",
    );
    let (code, _, err) = insync(&["check", &p, "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("version-old.toml") && err.contains("Kafka 0.10 is not modelled"),
        "{err}"
    );
}

#[test]
fn the_readme_shows_the_rule_table_the_code_has() {
    let (code, table, _) = insync(&["releases", "--format", "markdown"]);
    assert_eq!(code, 0);
    let readme = std::fs::read_to_string("README.md").unwrap();
    let shown = readme
        .split("<!-- releases:begin -->")
        .nth(1)
        .and_then(|t| t.split("<!-- releases:end -->").next())
        .expect("README.md has the releases markers");
    assert_eq!(
        shown.trim(),
        table.trim(),
        "regenerate it with `insync releases --format markdown`"
    );
    let (code, json, _) = insync(&["releases", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let strict = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "strict-min-isr")
        .unwrap();
    assert_eq!(
        (
            strict["releases"]["3.6"].as_bool(),
            strict["releases"]["3.7"].as_bool()
        ),
        (Some(false), Some(true))
    );
}

/// A catalogue of one seed scenario that leaves acks at the producer's
/// default: acks=all from 3.0 (KIP-679), 1 before, so the newest
/// release's table notes the releases where the verdict differs, and one
/// release's table is that release's alone.
#[test]
fn the_matrix_names_the_releases_where_a_verdict_differs() {
    let dir = std::env::temp_dir().join(format!("insync-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("seed-acksall-isr2-process.toml"),
        "why = \"acks left at the default\"\n[kafka]\n\"min.insync.replicas\" = 2\n\
         \"enable.idempotence\" = false\nretries = 1\n[model]\nrecords = 1\n\
         crash_mode = \"process\"\nlag_removals = 0\n",
    )
    .unwrap();
    let models = dir.to_string_lossy().into_owned();
    let table = |extra: &[&str]| {
        let mut args = vec!["matrix", "--models", &models, "--format", "json", "--quiet"];
        args.extend_from_slice(extra);
        let (code, out, err) = insync(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let cell = |m: &serde_json::Value| m["rows"][7]["cells"][0].clone();

    let newest = table(&[]);
    assert_eq!(newest["kafka.version"], "4.3");
    assert_eq!(newest["rows"][7]["acks"], "all");
    let c = cell(&newest);
    assert_eq!(c["verdict"], "holds", "{c}");
    assert_eq!(
        c["elsewhere"],
        serde_json::json!([{"releases": "before 3.0", "verdict": "violated"}])
    );
    // A cell with no scenario says so, and is never guessed.
    assert!(newest["rows"][0]["cells"][0]["verdict"].is_null());

    let old = table(&["--kafka-version", "2.8"]);
    assert_eq!(old["kafka.version"], "2.8");
    let c = cell(&old);
    assert_eq!(c["verdict"], "violated", "{c}");
    assert_eq!(c["elsewhere"], serde_json::json!([]));

    let (code, _, err) = insync(&["matrix", "--models", &models, "--kafka-version", "1.0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Kafka 1.0 is not modelled"), "{err}");
}

/// Off a terminal (CI logs, `2>file`) progress is a plain line every few
/// seconds, not a redrawn spinner and not silence; `--quiet` stops it.
#[test]
fn progress_off_a_terminal_is_a_plain_line_every_few_seconds() {
    // A search that outlasts its 7 s limit on any machine; the first
    // progress line comes at 5 s.
    let scenario = [&LONG_SEARCH[..], &["--seconds", "7"]].concat();
    let (_, _, err) = insync(&scenario);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("insync: ")).collect();
    assert!(!lines.is_empty(), "no progress line in: {err}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("unique states") && l.contains("states/s")),
        "{err}"
    );
    assert!(
        !err.contains('\r') && !err.contains('\u{1b}'),
        "redrawn: {err:?}"
    );
    let (_, _, quiet) = insync(&[&scenario[..], &["--quiet"]].concat());
    assert!(!quiet.contains("unique states"), "{quiet}");
}

/// `--acks -1` is Kafka's spelling of acks=all and must parse as a value,
/// not as a flag; a format the command cannot print is refused, not
/// quietly printed as text.
#[test]
fn acks_minus_one_parses_and_an_unprintable_format_is_refused() {
    let (code, out, err) = insync(&[
        "check",
        "--acks",
        "-1",
        "--rf",
        "2",
        "--min-isr",
        "1",
        "--crash-mode",
        "process",
        "--lag-removals",
        "0",
        "--records",
        "1",
        "--quiet",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["config"]["acks"], "all");
    let (code, _, err) = insync(&["check", "--format", "markdown", "--quiet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("markdown"), "{err}");
}

/// A story ends with the loss itself: which record, acknowledged where,
/// missing from which leader's log.
#[test]
fn a_violated_story_ends_with_the_record_it_lost() {
    // One worker: which broker the story names is one of several equally
    // short counterexamples, and only one worker picks it the same way
    // every run.
    let (_, out, _) = insync(&[
        "check",
        "models/unclean-election.toml",
        "--quiet",
        "--threads",
        "1",
    ]);
    assert!(
        out.contains(
            "=> Lost: r0 (acknowledged at offset 0) is not in the log of broker 2, the leader now"
        ),
        "{out}"
    );
    assert!(
        out.contains("was visible to consumers on broker 1"),
        "{out}"
    );
    let (_, out, _) = insync(&[
        "check",
        "models/unclean-election.toml",
        "--quiet",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let lost = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "acked_never_lost")
        .unwrap();
    let c = &lost["counterexample"];
    assert!(c["ending"].as_str().unwrap().starts_with("Lost: r0"), "{c}");
    assert_eq!(
        c["steps"].as_array().unwrap().len() as u64,
        c["length"].as_u64().unwrap()
    );
}
