//! Random walks and cut-short searches: what they find is real, what they
//! miss is reported as undecided, and a walk that never exercised the
//! protocol fails instead of passing.

mod common;

use common::{LONG_SEARCH, insync};
use std::process::{Command, Stdio};

const CANONICAL: &str = "models/seed-acksall-isr2-machine.toml";

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).expect("JSON on stdout")
}

fn property<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// The exhaustive check finds a 22-step loss here; uniform random walks
/// used to miss it and print "holds". The swarm's walks find it in a
/// couple of thousand walks, whatever the seed.
#[test]
fn walks_find_the_canonical_loss_for_every_seed() {
    for seed in ["0", "1", "2", "3"] {
        let (code, out, err) = insync(&[
            "check",
            CANONICAL,
            "--simulate",
            "--walks",
            "2000",
            "--seed",
            seed,
            "--quiet",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "seed {seed}: {err}");
        let v = json(&out);
        assert_eq!(v["walks"], 2000);
        assert_eq!(v["exhausted"], false);
        assert_eq!(v["simulation"], true);
        let lost = property(&v, "acked_never_lost");
        assert_eq!(lost["verdict"], "violated", "seed {seed}");
        let len = lost["counterexample"]["length"].as_u64().unwrap();
        // Never shorter than the exhaustive check's shortest; shortened
        // from the walk's detours to near it.
        assert!((22..=30).contains(&len), "seed {seed}: {len} steps");
        // Not found is not "holds".
        assert_eq!(property(&v, "replicas_agree")["verdict"], "unknown");
    }
}

#[test]
fn walks_bounded_by_count_are_the_same_on_one_thread_and_two() {
    let run = |threads: &str| {
        let (_, out, _) = insync(&[
            "check",
            CANONICAL,
            "--simulate",
            "--walks",
            "300",
            "--seed",
            "7",
            "--threads",
            threads,
            "--quiet",
            "--format",
            "json",
        ]);
        let v = json(&out);
        let props = v["properties"].as_array().unwrap().clone();
        props
            .iter()
            .map(|p| {
                (
                    p["verdict"].clone(),
                    p["counterexample"]["explorer_path"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn a_simulation_that_never_acknowledges_a_write_fails() {
    let mut inconclusive = 0;
    for seed in 0..8 {
        let seed = seed.to_string();
        let (code, out, err) = insync(&[
            "check",
            "--acks",
            "all",
            "--min-isr",
            "2",
            "--rf",
            "3",
            "--simulate",
            "--walks",
            "1",
            "--seed",
            &seed,
            "--quiet",
        ]);
        let unreached = out.contains("INCONCLUSIVE");
        assert_eq!(unreached, err.contains("inconclusive"), "{out}\n{err}");
        assert_eq!(code, if unreached { 1 } else { 0 }, "seed {seed}: {err}");
        inconclusive += usize::from(unreached);
        assert!(out.contains("proves nothing"), "{out}");
        assert!(out.contains("not found in 1 walks"), "{out}");
    }
    assert!(inconclusive > 0, "one walk always acknowledged a write");
}

#[test]
fn a_time_limited_search_reports_what_it_found() {
    let (_, out, err) = insync(
        &[CANONICAL, "--seconds", "0", "--quiet", "--format", "json"]
            .iter()
            .fold(vec!["check"], |mut v, a| {
                v.push(a);
                v
            }),
    );
    let v = json(&out);
    assert_eq!(v["stopped"], "time limit", "{err}");
    assert_eq!(v["exhausted"], false);
    let props = v["properties"].as_array().unwrap();
    assert!(props.iter().any(|p| p["verdict"] == "unknown"), "{out}");
    for p in props.iter().filter(|p| p["verdict"] == "violated") {
        if p["expectation"] == "always" {
            assert!(p["counterexample"]["length"].as_u64().unwrap() > 0, "{p}");
        }
    }
}

/// A search that passes its memory budget stops and reports, rather than
/// be killed by the system; the default budget leaves the catalogue's
/// searches alone.
#[test]
fn a_search_over_its_memory_budget_reports_what_it_found() {
    let run = |extra: &[&str]| {
        let mut args = vec!["check", CANONICAL, "--quiet", "--format", "json"];
        args.extend(extra);
        let (_, out, err) = insync(&args);
        (json(&out), err)
    };
    let (v, err) = run(&["--max-memory", "0.05"]);
    assert_eq!(v["stopped"], "memory limit", "{err}");
    assert_eq!(v["exhausted"], false);
    let total = v["unique_states"].as_u64().unwrap();
    assert!(total > 0 && total < 1_477_884, "{total}");
    let props = v["properties"].as_array().unwrap();
    assert!(props.iter().any(|p| p["verdict"] == "unknown"), "{v}");
    let (v, err) = run(&[]);
    assert_eq!(v["stopped"], serde_json::Value::Null, "{err}");
    assert_eq!(v["exhausted"], true);
    let (code, _, err) = insync(&["check", CANONICAL, "--max-memory", "lots"]);
    assert_eq!(code, 2);
    assert!(err.contains("a positive number of gigabytes"), "{err}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_search_which_reports_what_it_found() {
    // A search of minutes: the canonical scenario ends before the signal.
    let long = [&LONG_SEARCH[..], &["--quiet"]].concat();
    let child = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(long)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("insync runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("STOPPED (interrupted)"), "{stdout}");
    assert!(stdout.contains("PARTIAL"), "{stdout}");
    assert!(
        stdout.contains("not decided (interrupted after"),
        "{stdout}"
    );
}

#[test]
fn simulate_refuses_the_unordered_network() {
    let (code, _, err) = insync(&[
        "check",
        "--network",
        "unordered_nonduplicating",
        "--simulate",
        "--quiet",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--simulate walks the ordered network only"),
        "{err}"
    );
}

/// A scenario file with `[check] walks` is walked, not searched, when
/// checked alone, for as many walks as it asks or `--walks` says.
#[test]
fn a_file_checked_by_walks_is_walked_with_its_expectations() {
    let file = "models/rf5-two-power-losses-isr2-machine.toml";
    let (code, out, err) = insync(&[
        "check", file, "--walks", "20", "--quiet", "--format", "json",
    ]);
    let v = json(&out);
    assert_eq!(v["simulation"], true, "{err}");
    assert_eq!(v["walks"], 20);
    assert_eq!(v["exhausted"], false);
    assert_eq!(v["config"]["replication.factor"], 5);
    // Twenty walks do not find the loss the file expects, and an unknown
    // contradicts nothing (the catalogue, which takes the file's own
    // number of walks, compares exactly).
    assert_eq!(property(&v, "acked_never_lost")["verdict"], "unknown");
    assert_eq!(code, 0, "{err}");
    // Its own number of walks finds it.
    let (code, out, err) = insync(&["check", file, "--quiet", "--format", "json"]);
    let v = json(&out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["walks"], 10_000);
    assert_eq!(property(&v, "acked_never_lost")["verdict"], "violated");
    // A file searched exhaustively takes a number of walks only with --simulate.
    let (code, _, err) = insync(&["check", CANONICAL, "--walks", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("give --simulate too"), "{err}");
}
