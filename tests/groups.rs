//! Consumer groups with real clients (kcat -G, confluent-kafka's
//! subscribe(), kafka-python's group_id), each broker its own process:
//! members get the partitions, committed offsets are where the next member
//! resumes, through a whole-cluster restart and a member killed mid-stream.

mod common;

use common::{Procs, kcat, kcat_produce_all, python, script};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Fast group formation for tests (Kafka's default waits 3 s).
const GROUP_FLAGS: &[&str] = &["--group-initial-rebalance-delay-ms", "200"];

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// `kcat -G group topic` from the committed offset to the end.
fn kcat_group_read(c: &Procs, group: &str, topic: &str) -> Vec<String> {
    let out = kcat(&[
        "-b",
        &c.bootstrap(),
        "-G",
        group,
        topic,
        "-e",
        "-q",
        "-X",
        "session.timeout.ms=6000",
        "-X",
        "auto.offset.reset=earliest",
    ]);
    assert!(
        out.status.success(),
        "kcat -G failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs tests/clients/group_consume.py to its end (`extra`: SLOW_MS and
/// UNTIL); the values it read.
fn group_consume(
    library: &str,
    c: &Procs,
    topic: &str,
    group: &str,
    count: usize,
    extra: &[&str],
) -> Vec<String> {
    let out = Command::new(python())
        .arg(script("group_consume.py"))
        .args([
            library,
            &c.bootstrap(),
            topic,
            group,
            &count.to_string(),
            "40",
        ])
        .args(extra)
        .output()
        .expect("the client script runs");
    assert!(
        out.status.success(),
        "{library} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let summary: Value = serde_json::from_str(last).expect("a JSON summary");
    serde_json::from_value(summary["read"].clone()).unwrap()
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn kcat_group_resumes_from_its_committed_offset_through_a_whole_cluster_restart() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, GROUP_FLAGS);
    c.metadata("g-kcat");
    kcat_produce_all(&c.bootstrap(), "g-kcat", "all", &values("a", 5)).expect("written");
    assert_eq!(kcat_group_read(&c, "readers", "g-kcat"), values("a", 5));
    kcat_produce_all(&c.bootstrap(), "g-kcat", "all", &values("b", 3)).expect("written");
    assert_eq!(
        kcat_group_read(&c, "readers", "g-kcat"),
        values("b", 3),
        "the group resumes where it committed"
    );
    assert_eq!(
        kcat_group_read(&c, "others", "g-kcat").len(),
        8,
        "another group has offsets of its own"
    );
    kcat_produce_all(&c.bootstrap(), "g-kcat", "all", &values("c", 2)).expect("written");
    for b in 0..3 {
        c.stop(b, true);
    }
    c.stop_controller(true);
    c.restart_controller();
    for b in 0..3 {
        c.restart(b);
    }
    c.wait_for(
        |m| m.contains("topic \"g-kcat\"") && m.contains(" 3 brokers:"),
        "the cluster is back",
    );
    assert_eq!(
        kcat_group_read(&c, "readers", "g-kcat"),
        values("c", 2),
        "committed offsets survive a whole-cluster restart"
    );
}

#[test]
#[ignore = "needs confluent-kafka and kafka-python: scripts/install-clients"]
fn confluent_kafka_and_kafka_python_consume_as_group_members_and_resume() {
    let _one_at_a_time = common::serial();
    let c = Procs::start(3, GROUP_FLAGS);
    c.metadata("g-py");
    kcat_produce_all(&c.bootstrap(), "g-py", "all", &values("a", 6)).expect("written");
    for library in ["confluent", "kafka-python"] {
        let group = format!("group-{library}");
        assert_eq!(
            group_consume(library, &c, "g-py", &group, 6, &[]),
            values("a", 6),
            "{library} reads the topic as a group member"
        );
    }
    kcat_produce_all(&c.bootstrap(), "g-py", "all", &values("b", 2)).expect("written");
    for library in ["confluent", "kafka-python"] {
        let group = format!("group-{library}");
        assert_eq!(
            group_consume(library, &c, "g-py", &group, 2, &[]),
            values("b", 2),
            "{library} resumes from its group's committed offset"
        );
    }
}

#[test]
#[ignore = "needs confluent-kafka: scripts/install-clients"]
fn a_member_killed_mid_stream_hands_its_partition_over_and_nothing_is_skipped() {
    let _one_at_a_time = common::serial();
    let c = Procs::start(3, GROUP_FLAGS);
    c.metadata("g-kill");
    let all = values("r", 40);
    kcat_produce_all(&c.bootstrap(), "g-kill", "all", &all).expect("written");
    // The first member reads slowly, committing each record, and is killed.
    let mut first = Command::new(python())
        .arg(script("group_consume.py"))
        .args([
            "confluent",
            &c.bootstrap(),
            "g-kill",
            "movers",
            "40",
            "60",
            "200",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the client script runs");
    let stdout = first.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .filter_map(|v| v["value"].as_str().map(str::to_string))
            .collect::<Vec<String>>()
    });
    // About a dozen records in (the group forms in well under a second).
    std::thread::sleep(Duration::from_secs(3));
    let _ = first.kill();
    let _ = first.wait();
    let read_first = reader.join().unwrap();
    assert!(
        !read_first.is_empty() && read_first.len() < all.len(),
        "killed mid-stream: read {} of {}",
        read_first.len(),
        all.len()
    );
    // The second member gets the partition once the first's session ends,
    // and starts from the first's last commit (the record it was killed
    // on at most comes again: at least once, never skipped).
    let last = all.last().unwrap().clone();
    let read_second = group_consume("confluent", &c, "g-kill", "movers", 1000, &["0", &last]);
    let start = all
        .iter()
        .position(|v| Some(v) == read_second.first())
        .expect("the second member read something");
    assert!(
        start == read_first.len() || start + 1 == read_first.len(),
        "it resumes at the first's last commit: read {} before, resumed at {start}",
        read_first.len()
    );
    assert_eq!(
        read_second,
        all[start..].to_vec(),
        "nothing skipped, in order"
    );
}
