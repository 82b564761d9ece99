//! Real, unmodified Kafka clients against `insync cluster`: kcat,
//! confluent-kafka (librdkafka) and kafka-python produce at acks 0, 1 and
//! all, then read everything back. `scripts/install-clients` installs them;
//! the README's test command runs it first.

mod common;

use common::{Proc, run_script};
use serde_json::Value;
use std::process::{Command, Stdio};

/// A running `insync cluster` of three brokers (RF=3).
struct Cluster {
    _proc: Proc,
    bootstrap: String,
}

impl Cluster {
    fn start(args: &[&str]) -> Cluster {
        let mut all = vec!["cluster", "--brokers", "3", "--base-port", "0"];
        all.extend(args);
        let proc = Proc::spawn(&all);
        let bootstrap = proc.after("bootstrap: ");
        Cluster {
            _proc: proc,
            bootstrap,
        }
    }
}

/// Every record was acknowledged (at its offset unless acks=0) and read
/// back in order.
fn assert_round_trip(report: &Value, acks: &str, count: i64) {
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    let acked: Vec<i64> = serde_json::from_value(report["acked"].clone()).unwrap();
    assert_eq!(acked.len() as i64, count, "{report}");
    if acks != "0" {
        assert_eq!(
            acked,
            (0..count).collect::<Vec<_>>(),
            "acks={acks}: {report}"
        );
    }
    let read: Vec<(i64, String)> = serde_json::from_value(report["read"].clone()).unwrap();
    let want: Vec<(i64, String)> = (0..count).map(|i| (i, format!("{acks}-{i}"))).collect();
    assert_eq!(read, want, "acks={acks}");
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn kcat_produces_and_consumes_at_every_acks() {
    let c = Cluster::start(&[]);
    for acks in ["0", "1", "all"] {
        let topic = format!("kcat-{acks}");
        let input: String = (0..20).map(|i| format!("{acks}-{i}\n")).collect();
        let mut p = Command::new("kcat")
            .args(["-b", &c.bootstrap, "-t", &topic, "-P", "-X"])
            .arg(format!("acks={acks}"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("kcat is installed (scripts/install-clients)");
        std::io::Write::write_all(p.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
        assert!(p.wait().unwrap().success(), "kcat -P acks={acks}");
        let out = Command::new("kcat")
            .args([
                "-b",
                &c.bootstrap,
                "-t",
                &topic,
                "-C",
                "-o",
                "beginning",
                "-e",
            ])
            .args(["-f", "%o %s\\n"])
            .output()
            .unwrap();
        assert!(out.status.success(), "kcat -C");
        let want: String = (0..20).map(|i| format!("{i} {acks}-{i}\n")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "acks={acks}");
    }
    let meta = Command::new("kcat")
        .args(["-b", &c.bootstrap, "-L"])
        .output()
        .unwrap();
    let meta = String::from_utf8_lossy(&meta.stdout);
    assert!(
        meta.contains("topic \"kcat-all\" with 1 partitions"),
        "{meta}"
    );
}

#[test]
#[ignore = "needs confluent-kafka in target/clients-venv: scripts/install-clients"]
fn confluent_kafka_produces_and_consumes_at_every_acks() {
    let c = Cluster::start(&[]);
    for acks in ["0", "1", "all"] {
        let topic = format!("confluent-{acks}");
        let report = run_script(
            "confluent_roundtrip.py",
            &[&c.bootstrap, &topic, acks, "50"],
        );
        assert_round_trip(&report, acks, 50);
    }
    let report = run_script(
        "confluent_roundtrip.py",
        &[
            &c.bootstrap,
            "confluent-idempotent",
            "all",
            "50",
            "idempotent",
        ],
    );
    assert_round_trip(&report, "all", 50);
}

#[test]
#[ignore = "needs kafka-python in target/clients-venv: scripts/install-clients"]
fn kafka_python_produces_and_consumes_at_every_acks() {
    let c = Cluster::start(&[]);
    for acks in ["0", "1", "all"] {
        let topic = format!("kafka-python-{acks}");
        let report = run_script(
            "kafka_python_roundtrip.py",
            &[&c.bootstrap, &topic, acks, "50"],
        );
        assert_round_trip(&report, acks, 50);
    }
}

#[test]
fn impossible_cluster_settings_are_refused() {
    for (args, says) in [
        (
            &["--min-isr", "0"][..],
            "min.insync.replicas: must be at least 1",
        ),
        (&["--brokers", "0"][..], "--brokers 0"),
        (&["--partitions", "0"][..], "0 partitions"),
        (
            &["--flush-every", "0"][..],
            "log.flush.interval.messages: must be at least 1",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_insync"))
            .args(["cluster", "--base-port", "0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
