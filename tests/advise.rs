//! `insync advise`: its recommendation is re-checked by `insync check`, its
//! rejections show the property they name violated, its table is ranked by
//! cost, and given a user's files it says which keys to change.

mod common;

use common::insync;
use serde_json::Value;

fn advise(args: &[&str]) -> (u8, Value) {
    let mut all = vec!["advise"];
    all.extend(args);
    all.extend(["--format", "json", "--quiet"]);
    let (code, out, err) = insync(&all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (
        code as u8,
        serde_json::from_str(&out).expect("JSON on stdout"),
    )
}

/// Runs a row's `insync check ...` command and returns `property`'s verdict.
fn recheck(command: &str, property: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&words[..2], ["insync", "check"], "{command}");
    let mut args = words[1..].to_vec();
    args.extend(["--format", "json", "--quiet"]);
    let (code, out, err) = insync(&args);
    assert!(code == 0 || code == 1, "{command}: exit {code}: {err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == property)
        .unwrap_or_else(|| panic!("{command}: no {property}"))["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

fn cost(row: &Value) -> (u64, u64, u64) {
    let fsync = match row["log.flush.interval.messages"].as_u64() {
        None => 0,
        Some(n) => u64::MAX / n,
    };
    let acks = match row["acks"].as_str().unwrap() {
        "0" => 0,
        "1" => 1,
        _ => 2,
    };
    (fsync, acks, row["min.insync.replicas"].as_u64().unwrap())
}

#[test]
fn the_advice_for_one_power_loss_is_rechecked_and_ranked_by_cost() {
    let (code, v) = advise(&["--tolerate", "1", "--crash-mode", "machine"]);
    assert_eq!(code, 0, "no files given: nothing of yours to reject");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        96,
        "acks 0 and 1 × 3 min.insync.replicas × fsync × ELR × unclean, and acks=all with idempotence either way"
    );
    let passing: Vec<&Value> = rows.iter().filter(|r| r["passes"] == true).collect();
    assert!(!passing.is_empty(), "some setting survives one power loss");
    assert!(passing.len() < rows.len(), "and some does not");
    // Passing rows first, each group cheapest first.
    let first_failing = rows.iter().position(|r| r["passes"] == false).unwrap();
    assert!(rows[first_failing..].iter().all(|r| r["passes"] == false));
    for group in [&rows[..first_failing], &rows[first_failing..]] {
        for w in group.windows(2) {
            assert!(cost(&w[0]) <= cost(&w[1]), "{} before {}", w[0], w[1]);
        }
    }
    let best = &v["recommended"];
    assert_eq!(best, passing[0]);
    let readme = std::fs::read_to_string("README.md").unwrap();
    let (_, rest) = readme.split_once("<!-- advise:begin -->\n").unwrap();
    let (shown, _) = rest.split_once("<!-- advise:end -->").unwrap();
    assert_eq!(
        shown.trim(),
        format!("Advised: {}", v["advised"].as_str().unwrap()),
        "the README's advice is not what insync advise prints"
    );
    assert_eq!(
        recheck(
            best["durability_command"].as_str().unwrap(),
            "acked_never_lost"
        ),
        "holds"
    );
    assert_eq!(
        recheck(
            best["availability_command"].as_str().unwrap(),
            "writes_available"
        ),
        "holds"
    );
    // A rejection names a property its own command shows violated.
    for property in ["acked_never_lost", "writes_available"] {
        let row = rows
            .iter()
            .find(|r| r["breaks"]["property"] == property)
            .unwrap_or_else(|| panic!("some row breaks {property}"));
        let command = row["breaks"]["command"].as_str().unwrap();
        assert_eq!(recheck(command, property), "violated", "{command}");
    }
}

/// The advice for one kill -9 and one record (small checks), given the
/// example server.properties and then `more`.
fn advise_files(more: &[&str]) -> (u8, Value) {
    let mut args = vec![
        "--records",
        "1",
        "--crash-mode",
        "process",
        "--broker-config",
        "examples/server.properties",
    ];
    args.extend(more);
    advise(&args)
}

#[test]
fn given_your_files_it_says_which_keys_to_change() {
    let (code, v) = advise_files(&[
        "--broker-config",
        "unclean.leader.election.enable=true",
        "--producer-config",
        "acks=1",
    ]);
    assert_eq!(
        code, 1,
        "acks=1 loses acknowledged records: yours is rejected"
    );
    let rows = v["rows"].as_array().unwrap();
    let yours: Vec<&Value> = rows.iter().filter(|r| r["yours"] == true).collect();
    assert_eq!(yours.len(), 1);
    assert_eq!(yours[0]["acks"], "1");
    assert_eq!(yours[0]["min.insync.replicas"], 2, "from server.properties");
    assert_eq!(yours[0]["breaks"]["property"], "acked_never_lost");
    let best = &v["recommended"];
    let changes = v["changes"].as_array().unwrap();
    let change = |key: &str| changes.iter().find(|c| c["key"] == key);
    // Every key that differs is named, in the place it is set now.
    let acks = change("acks").expect("acks changes");
    assert_eq!(acks["from"], "1");
    assert_eq!(acks["to"], best["acks"]);
    assert_eq!(acks["file"], "--producer-config on the command line");
    let unclean = best["unclean.leader.election.enable"].as_bool().unwrap();
    match change("unclean.leader.election.enable") {
        Some(c) => assert_eq!(c["to"], unclean.to_string()),
        None => assert!(unclean, "unclean was on and stays on"),
    }
    let min_isr = best["min.insync.replicas"].as_u64().unwrap();
    match change("min.insync.replicas") {
        Some(c) => {
            assert_eq!(c["from"], "2");
            assert_eq!(c["file"], "examples/server.properties");
            assert!(
                c["at"]
                    .as_str()
                    .unwrap()
                    .starts_with("examples/server.properties:")
            );
            assert_eq!(c["to"], min_isr.to_string());
        }
        None => assert_eq!(min_isr, 2),
    }
    // Applying the changes gives the advised row, which passes.
    assert_eq!(best["passes"], true);
}

#[test]
fn settings_that_pass_need_no_change() {
    let (code, v) = advise_files(&["--producer-config", "examples/producer.properties"]);
    let yours = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["yours"] == true)
        .expect("your row");
    assert_eq!(
        yours["passes"], true,
        "acks=all, min.insync.replicas=2, idempotence, one kill -9"
    );
    assert_eq!(code, 0);
    assert!(
        v.get("changes").is_none(),
        "nothing to change: {}",
        v["changes"]
    );
}

#[test]
fn impossible_questions_are_refused() {
    let (code, _, err) = insync(&["advise", "--tolerate", "3", "--replicas", "3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--tolerate 3 with 3 replicas"), "{err}");
    let (code, _, err) = insync(&["advise", "--kafka-version", "1.0"]);
    assert_eq!(code, 2, "{err}");
}
