//! Whole-cluster and controller restarts, each node its own process: what
//! was acknowledged, the topics and their configs, and the controller's
//! decisions (leaders, epochs, ISR) all come back.

mod common;

use common::{
    Procs, kcat_produce, kcat_produce_all, kcat_read, leader_and_isr, parse_report, python,
    run_script, script,
};
use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn read_values(c: &Procs, topic: &str) -> Vec<String> {
    kcat_read(&c.bootstrap(), topic)
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// Stops every process (SIGTERM when `clean`, else SIGKILL), brokers
/// first, and starts them all again on the same folders.
fn restart_everything(c: &mut Procs, clean: bool) {
    for b in 0..c.brokers.len() {
        c.stop(b, clean);
    }
    c.stop_controller(clean);
    c.restart_controller();
    for b in 0..c.brokers.len() {
        c.restart(b);
    }
}

/// The issue-12 scenario: the ISR shrinks to the leader, acks=all writes go
/// on (min.insync.replicas=1) or are refused (2), then everything stops and
/// starts again. The only ISR member must lead again with all it had.
fn whole_cluster_restart_after_the_isr_shrank_to_one(min_isr: &str, clean: bool) {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", min_isr, "--replica-lag-ms", "1500"]);
    c.metadata("kept");
    let first = values("a", 100);
    kcat_produce_all(&c.bootstrap(), "kept", "all", &first).expect("all three in sync");
    let (leader, isr) = leader_and_isr(&c.metadata("kept"), "kept").unwrap();
    assert_eq!(isr, 3);
    for f in [(leader + 1) % 3, (leader + 2) % 3] {
        c.brokers[f].as_ref().unwrap().signal("-USR1");
    }
    // Followers fall behind only when there is something to fetch.
    kcat_produce(&c.bootstrap(), "kept", "1", "behind").expect("acks=1: the leader alone");
    c.wait_for(
        |m| leader_and_isr(m, "kept") == Some((leader, 1)),
        "the ISR shrinks to the leader",
    );
    let second = values("b", 100);
    let written = kcat_produce_all(&c.bootstrap(), "kept", "all", &second);
    let mut acked = first.clone();
    acked.push("behind".into());
    if min_isr == "1" {
        written.expect("min.insync.replicas=1: the leader alone takes acks=all writes");
        acked.extend(second);
    } else {
        let err = written.unwrap_err();
        assert!(err.contains("Not enough in-sync replicas"), "{err}");
    }
    restart_everything(&mut c, clean);
    let meta = c.wait_for(
        |m| leader_and_isr(m, "kept").is_some_and(|(_, isr)| isr == 3),
        "the topic is back and every replica rejoins the ISR",
    );
    assert_eq!(
        leader_and_isr(&meta, "kept").map(|(l, _)| l),
        Some(leader),
        "only the last ISR member may lead (a clean election)"
    );
    assert_eq!(
        read_values(&c, "kept"),
        acked,
        "every acknowledged record, in order"
    );
    kcat_produce(&c.bootstrap(), "kept", "all", "after").expect("and it takes writes");
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn sigterm_whole_cluster_restart_at_min_isr_1_loses_nothing_acknowledged() {
    whole_cluster_restart_after_the_isr_shrank_to_one("1", true);
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn sigkill_whole_cluster_restart_at_min_isr_1_loses_nothing_acknowledged() {
    whole_cluster_restart_after_the_isr_shrank_to_one("1", false);
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn sigkill_whole_cluster_restart_at_min_isr_2_loses_nothing_acknowledged() {
    whole_cluster_restart_after_the_isr_shrank_to_one("2", false);
}

#[test]
#[ignore = "needs kcat and confluent-kafka: scripts/install-clients"]
fn topic_configs_survive_a_whole_cluster_restart() {
    let _one_at_a_time = common::serial();
    // The brokers' default is min.insync.replicas=1; the topic asks for 3.
    let mut c = Procs::start(3, &["--min-isr", "1"]);
    let created = run_script(
        "create_topic.py",
        &[&c.bootstrap(), "strict", "1", "3", "min.insync.replicas=3"],
    );
    assert_eq!(created["created"], true, "{created}");
    kcat_produce(&c.bootstrap(), "strict", "all", "in-sync").expect("all three in sync");
    restart_everything(&mut c, true);
    let meta = c.wait_for(
        |m| leader_and_isr(m, "strict").is_some_and(|(_, isr)| isr == 3),
        "the topic is back with its three replicas in sync",
    );
    let (leader, _) = leader_and_isr(&meta, "strict").unwrap();
    c.stop((leader + 1) % 3, false);
    c.wait_for(
        |m| leader_and_isr(m, "strict").is_some_and(|(_, isr)| isr == 2),
        "the ISR shrinks",
    );
    let err = kcat_produce(&c.bootstrap(), "strict", "all", "refused").unwrap_err();
    assert!(
        err.contains("Not enough in-sync replicas"),
        "min.insync.replicas=3 survived the restart: {err}"
    );
    assert_eq!(read_values(&c, "strict"), vec!["in-sync"]);
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn the_controller_killed_while_brokers_run_resumes_its_decisions() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1", "--replica-lag-ms", "1500"]);
    c.metadata("steady");
    kcat_produce_all(&c.bootstrap(), "steady", "all", &values("a", 10)).expect("in sync");
    let (leader, _) = leader_and_isr(&c.metadata("steady"), "steady").unwrap();
    let paused = (leader + 1) % 3;
    c.brokers[paused].as_ref().unwrap().signal("-USR1");
    kcat_produce(&c.bootstrap(), "steady", "all", "behind").expect("the ISR takes it");
    c.wait_for(
        |m| leader_and_isr(m, "steady") == Some((leader, 2)),
        "the ISR drops the paused follower",
    );
    c.stop_controller(false);
    c.restart_controller();
    // The brokers reconnect as the same processes: nobody is fenced, and
    // the partition keeps its leader and its shrunk ISR.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let meta = c.wait_for(|m| m.contains(" 3 brokers:"), "every broker reconnects");
    assert_eq!(
        leader_and_isr(&meta, "steady"),
        Some((leader, 2)),
        "no election and no ISR change undid what was decided:\n{meta}"
    );
    kcat_produce_all(&c.bootstrap(), "steady", "all", &values("b", 10)).expect("writes go on");
    c.brokers[paused].as_ref().unwrap().signal("-USR1");
    c.wait_for(
        |m| leader_and_isr(m, "steady") == Some((leader, 3)),
        "the follower catches up and the restarted controller lets it back in",
    );
    let mut all = values("a", 10);
    all.push("behind".into());
    all.extend(values("b", 10));
    assert_eq!(read_values(&c, "steady"), all);
}

/// KIP-966's last resort on the running cluster (`--elr`): the sole ISR
/// member is killed (SIGKILL), fenced into the ELR, and comes back from an
/// unclean shutdown, which takes it out of the ELR too. With the ISR and
/// the ELR empty, the controller elects it again as the last known leader
/// (`PartitionChangeBuilder.canElectLastKnownLeader`), so the partition
/// takes writes again, and nothing acknowledged is lost: the page cache
/// kept its log. Without the last resort the partition stays offline.
#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn with_elr_the_last_known_leader_is_elected_again_after_an_unclean_restart() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1", "--elr", "--replica-lag-ms", "1500"]);
    c.metadata("last");
    let mut acked = values("a", 20);
    kcat_produce_all(&c.bootstrap(), "last", "all", &acked).expect("all three in sync");
    let (leader, isr) = leader_and_isr(&c.metadata("last"), "last").unwrap();
    assert_eq!(isr, 3);
    for f in [(leader + 1) % 3, (leader + 2) % 3] {
        c.brokers[f].as_ref().unwrap().signal("-USR1");
    }
    kcat_produce(&c.bootstrap(), "last", "1", "behind").expect("acks=1: the leader alone");
    acked.push("behind".into());
    c.wait_for(
        |m| leader_and_isr(m, "last") == Some((leader, 1)),
        "the ISR shrinks to the leader",
    );
    let alone = values("b", 20);
    kcat_produce_all(&c.bootstrap(), "last", "all", &alone)
        .expect("min.insync.replicas=1: the leader alone takes acks=all writes");
    acked.extend(alone);
    c.stop(leader, false);
    c.restart(leader);
    // Its killed life leads with the same ISR until its session expires
    // (the new life is refused until then): wait for the new life.
    let back = format!("broker {leader} at {}", c.addr(leader).unwrap());
    c.wait_for(
        |m| leader_and_isr(m, "last") == Some((leader, 1)) && m.contains(&back),
        "the last known leader is elected again, alone in the ISR",
    );
    kcat_produce(&c.bootstrap(), "last", "all", "after").expect("it takes writes again");
    acked.push("after".into());
    assert_eq!(
        read_values(&c, "last"),
        acked,
        "every acknowledged record, in order"
    );
}

/// The controller's trace lines about partition 0 of `topic`, in order.
fn partition_events(c: &Procs, topic: &str) -> Vec<Value> {
    c.controller_trace()
        .into_iter()
        .filter(|l| l["topic"] == topic && l["partition"] == 0)
        .map(|l| l["event"].clone())
        .collect()
}

/// Waits for `p` to exit, failing the test after `limit`.
fn exit_within(p: &mut common::Proc, limit: Duration) -> std::process::ExitStatus {
    let since = Instant::now();
    loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            return s;
        }
        assert!(since.elapsed() < limit, "it stops within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM is Kafka's controlled shutdown: the controller takes the leader
/// out of the ISR and elects another before the process may stop, so it
/// exits 0 with leadership already moved, nothing acknowledged is lost,
/// and its next life registers as having stopped cleanly (the marker).
#[test]
#[ignore = "needs kcat and confluent-kafka: scripts/install-clients"]
fn sigterm_on_the_leader_is_a_controlled_shutdown_and_the_restart_registers_clean() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "2"]);
    let (leader, isr) = leader_and_isr(&c.metadata("calm"), "calm").expect("the topic exists");
    assert_eq!(isr, 3);
    let producer = Command::new(python())
        .arg(script("produce_through_failure.py"))
        .args([&c.bootstrap(), "calm", "2000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let mut stopping = c.brokers[leader].take().unwrap();
    let asked = Instant::now();
    stopping.signal("-TERM");
    let status = exit_within(&mut stopping, Duration::from_secs(10));
    let took = asked.elapsed();
    assert!(status.success(), "a controlled shutdown exits 0: {status}");
    // Asked at once, with no time for a session timeout to act.
    let (now_leading, isr) = leader_and_isr(&c.metadata("calm"), "calm").unwrap();
    assert_ne!(now_leading, leader, "leadership moved before it stopped");
    assert_eq!(isr, 2);
    let marker = c.data.join(format!("broker-{leader}/.kafka_cleanshutdown"));
    assert!(marker.exists(), "the clean-shutdown marker is left");
    let events = partition_events(&c, "calm");
    let granted = events
        .iter()
        .position(|e| e["type"] == "ShutdownGranted" && e["broker"] == leader)
        .expect("the controller granted the shutdown");
    assert_eq!(
        events[granted]["leader_lost"], true,
        "{:?}",
        events[granted]
    );
    let next = &events[granted + 1];
    assert!(
        next["type"] == "LeaderElected" && next["broker"] != leader,
        "a new leader, in the same decision: {next}"
    );

    let out = producer.wait_with_output().unwrap();
    let report = parse_report("produce_through_failure.py", &out);
    let acked: Vec<(i64, String)> = serde_json::from_value(report["acked"].clone()).unwrap();
    let read: Vec<(i64, String)> = serde_json::from_value(report["read"].clone()).unwrap();
    assert!(acked.len() > 100, "the producer got going: {}", acked.len());
    let read_values: HashSet<&str> = read.iter().map(|(_, v)| v.as_str()).collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(_, v)| !read_values.contains(v.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(read_values.len(), read.len(), "no duplicates");

    c.restart(leader);
    c.wait_for(
        |m| leader_and_isr(m, "calm").is_some_and(|(_, isr)| isr == 3),
        "the restarted broker rejoins the ISR",
    );
    assert!(!marker.exists(), "the marker is read once and removed");
    let registered: Vec<bool> = partition_events(&c, "calm")
        .iter()
        .filter(|e| e["type"] == "BrokerRegistered" && e["broker"] == leader)
        .map(|e| e["clean_shutdown"] == true)
        .collect();
    assert_eq!(
        registered,
        vec![true],
        "its new life registers clean (the first life's registration came before the topic)"
    );
    eprintln!("SIGTERM to exit: {took:?}");
}

/// A controlled-shutdown request the controller dies with is asked again:
/// the request reaches a frozen controller, which is then killed and
/// restarted, and the broker asks again on its new connection, as Kafka's
/// `BrokerLifecycleManager` keeps asking until it is answered. Asked once
/// only, it would wait out its session timeout and stop uncleanly.
#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn a_shutdown_request_lost_with_the_controller_is_asked_again() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1"]);
    let (leader, _) = leader_and_isr(&c.metadata("later"), "later").expect("the topic exists");
    c.controller.as_ref().unwrap().signal("-STOP");
    let mut stopping = c.brokers[leader].take().unwrap();
    stopping.signal("-TERM");
    std::thread::sleep(Duration::from_millis(200));
    c.stop_controller(false);
    c.restart_controller();
    let status = exit_within(&mut stopping, Duration::from_secs(10));
    assert!(status.success(), "the shutdown completes cleanly: {status}");
    let marker = c.data.join(format!("broker-{leader}/.kafka_cleanshutdown"));
    assert!(marker.exists(), "the clean-shutdown marker is left");
    let (now_leading, _) = leader_and_isr(&c.metadata("later"), "later").unwrap();
    assert_ne!(now_leading, leader, "leadership moved before it stopped");
}
