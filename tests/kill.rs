//! Brokers as separate processes, killed with SIGKILL mid-stream, with
//! real clients: what survives is what the model says survives.

mod common;

use common::{Procs, kcat_produce, kcat_read, leader_and_isr, parse_report, python, script};
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs kcat and confluent-kafka: scripts/install-clients"]
fn acks_all_min_isr_2_loses_nothing_when_the_leader_is_killed_mid_stream() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "2"]);
    let meta = c.metadata("stream");
    let (leader, isr) = leader_and_isr(&meta, "stream").expect("the topic exists");
    assert_eq!(isr, 3, "{meta}");
    let producer = Command::new(python())
        .arg(script("produce_through_failure.py"))
        .args([&c.bootstrap(), "stream", "2000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    c.kill(leader);
    let out = producer.wait_with_output().unwrap();
    let report = parse_report("produce_through_failure.py", &out);
    let acked: Vec<(i64, String)> = serde_json::from_value(report["acked"].clone()).unwrap();
    let read: Vec<(i64, String)> = serde_json::from_value(report["read"].clone()).unwrap();
    assert!(
        acked.len() > 100,
        "the producer got going: {} acked",
        acked.len()
    );
    let read_values: HashSet<&str> = read.iter().map(|(_, v)| v.as_str()).collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(_, v)| !read_values.contains(v.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(
        read_values.len(),
        read.len(),
        "no duplicates with the idempotent producer"
    );
    let offsets: Vec<i64> = read.iter().map(|(o, _)| *o).collect();
    assert_eq!(
        offsets,
        (0..read.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
    let after = c.metadata("stream");
    let (new_leader, _) = leader_and_isr(&after, "stream").unwrap();
    assert_ne!(new_leader, leader, "a new leader took over");
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn acks_all_min_isr_3_refuses_writes_while_a_broker_is_down() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "3"]);
    c.metadata("strict");
    kcat_produce(&c.bootstrap(), "strict", "all", "before").expect("all three in sync");
    let meta = c.metadata("strict");
    let (leader, _) = leader_and_isr(&meta, "strict").unwrap();
    let victim = (leader + 1) % 3;
    c.kill(victim);
    c.wait_for(
        |m| leader_and_isr(m, "strict").is_some_and(|(_, isr)| isr == 2),
        "the ISR shrinks",
    );
    let err = kcat_produce(&c.bootstrap(), "strict", "all", "refused").unwrap_err();
    assert!(err.contains("Not enough in-sync replicas"), "{err}");
    c.restart(victim);
    c.wait_for(
        |m| leader_and_isr(m, "strict").is_some_and(|(_, isr)| isr == 3),
        "the restarted broker rejoins the ISR",
    );
    kcat_produce(&c.bootstrap(), "strict", "all", "after").expect("writes resume");
    let values: Vec<String> = kcat_read(&c.bootstrap(), "strict")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, vec!["before", "after"]);
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn acks_all_min_isr_2_refuses_writes_with_two_brokers_down_and_loses_nothing() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "2"]);
    c.metadata("two");
    for v in ["a", "b", "c"] {
        kcat_produce(&c.bootstrap(), "two", "all", v).expect("in sync");
    }
    let (leader, _) = leader_and_isr(&c.metadata("two"), "two").unwrap();
    let down = [(leader + 1) % 3, (leader + 2) % 3];
    for b in down {
        c.kill(b);
    }
    c.wait_for(
        |m| leader_and_isr(m, "two").is_some_and(|(_, isr)| isr == 1),
        "the ISR shrinks to the last replica standing",
    );
    let err = kcat_produce(&c.bootstrap(), "two", "all", "refused").unwrap_err();
    assert!(err.contains("Not enough in-sync replicas"), "{err}");
    for b in down {
        c.restart(b);
    }
    c.wait_for(
        |m| leader_and_isr(m, "two").is_some_and(|(_, isr)| isr == 3),
        "both rejoin",
    );
    kcat_produce(&c.bootstrap(), "two", "all", "d").expect("writes resume");
    let values: Vec<String> = kcat_read(&c.bootstrap(), "two")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        values,
        vec!["a", "b", "c", "d"],
        "nothing acknowledged was lost"
    );
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn acks_1_loses_a_record_acknowledged_just_before_the_leader_dies() {
    // Followers stay in the ISR (30 s lag allowance) but stop fetching
    // (SIGUSR1), so the leader acknowledges a record only it holds.
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1", "--replica-lag-ms", "30000"]);
    c.metadata("lossy");
    kcat_produce(&c.bootstrap(), "lossy", "all", "r0").expect("replicated");
    let (leader, isr) = leader_and_isr(&c.metadata("lossy"), "lossy").unwrap();
    assert_eq!(isr, 3);
    let followers = [(leader + 1) % 3, (leader + 2) % 3];
    for f in followers {
        c.brokers[f].as_ref().unwrap().signal("-USR1");
    }
    std::thread::sleep(Duration::from_millis(300));
    kcat_produce(&c.bootstrap(), "lossy", "1", "r1")
        .expect("acks=1: the leader alone acknowledges");
    c.kill(leader);
    c.wait_for(
        |m| leader_and_isr(m, "lossy").is_some_and(|(l, _)| l != leader),
        "a follower takes over",
    );
    for f in followers {
        c.brokers[f].as_ref().unwrap().signal("-USR1");
    }
    kcat_produce(&c.bootstrap(), "lossy", "all", "r2").expect("the new leader takes writes");
    let read = kcat_read(&c.bootstrap(), "lossy");
    assert_eq!(
        read,
        vec![(0, "r0".to_string()), (1, "r2".to_string())],
        "r1 was acknowledged and is gone; r2 took its offset"
    );
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn a_killed_broker_recovers_its_log_from_disk() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(1, &[]);
    c.metadata("kept");
    for v in ["a", "b", "c"] {
        kcat_produce(&c.bootstrap(), "kept", "1", v).expect("written");
    }
    c.kill(0);
    // A torn write at the end of the segment, as a crash mid-append leaves.
    let segment = c.data.join("broker-0/kept-0/00000000000000000000.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0, 0, 0, 0, 0, 0, 0, 3, 0, 0]).unwrap();
    drop(f);
    c.restart(0);
    c.wait_for(
        |m| leader_and_isr(m, "kept").is_some_and(|(l, _)| l == 0),
        "the broker leads again",
    );
    let values: Vec<String> = kcat_read(&c.bootstrap(), "kept")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        values,
        vec!["a", "b", "c"],
        "the log came back, the torn tail did not"
    );
    kcat_produce(&c.bootstrap(), "kept", "1", "d").expect("and it takes writes");
    let read = kcat_read(&c.bootstrap(), "kept");
    assert_eq!(read.last(), Some(&(3, "d".to_string())));
}

/// A full disk, as a file-size limit stands for it (the same failed write):
/// the broker stops and says which file it could not write, nothing
/// unwritten was acknowledged, and a restart recovers every acknowledged
/// record, the torn tail cut.
#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn a_full_disk_stops_the_broker_and_loses_nothing_acknowledged() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(1, &[]);
    c.metadata("full");
    c.kill(0);
    // Broker 0 again, its files limited to 256 KiB.
    let dir = c.data.join("broker-0");
    let mut args: Vec<String> = vec![
        "broker".into(),
        "--id".into(),
        "0".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir.to_str().unwrap().into(),
    ];
    args.extend(c.broker_args.iter().cloned());
    let mut limited = Command::new("bash")
        .arg("-c")
        .arg("ulimit -f 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_insync"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(limited.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    let addr = first.trim().strip_prefix("broker 0: ").unwrap().to_string();
    // Its killed life's session must run out before it may register
    // (DUPLICATE_BROKER_REGISTRATION until then).
    common::wait_for_at(
        &addr,
        |m| leader_and_isr(m, "full").is_some_and(|(l, _)| l == 0),
        "the limited broker registers and leads",
    );
    let mut acked = Vec::new();
    let value = "x".repeat(4000);
    for i in 0..200 {
        let v = format!("{i:04}-{value}");
        if kcat_produce(&addr, "full", "1", &v).is_err() {
            break;
        }
        acked.push(v);
    }
    let out = limited.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "it stops: {err}");
    assert!(
        err.contains("cannot write")
            && err.contains("File too large")
            && err.contains("stopping the broker"),
        "and says why: {err}"
    );
    assert!(
        acked.len() > 10 && acked.len() < 200,
        "the limit was reached mid-stream: {} acknowledged",
        acked.len()
    );
    c.restart(0);
    c.wait_for(
        |m| leader_and_isr(m, "full").is_some_and(|(l, _)| l == 0),
        "the broker leads again",
    );
    let values: Vec<String> = kcat_read(&c.bootstrap(), "full")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, acked, "every acknowledged record, nothing else");
    kcat_produce(&c.bootstrap(), "full", "1", "after").expect("and it takes writes");
}

/// Kafka 4.x's DUPLICATE_BROKER_REGISTRATION: a broker killed and started
/// again within `broker.session.timeout.ms` is refused by the controller
/// until its killed life's session expires and that life is fenced
/// (`ClusterControlManager.registerBroker`); it keeps asking, and only
/// then does the cluster list its new address. A new process displacing
/// the old registration at once would be let in within a fraction of that.
#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn a_broker_restarted_within_its_session_waits_for_the_old_one_to_expire() {
    let _one_at_a_time = common::serial();
    // 3 s sessions, heartbeats every 750 ms: the killed life's session
    // lasts at least 2.25 s after the kill.
    let mut c = Procs::start_timed(3, &["--min-isr", "2"], &[], "3000");
    c.metadata("again");
    kcat_produce(&c.bootstrap(), "again", "all", "before").expect("all three in sync");
    let old_addr = c.addr(0).unwrap();
    let killed = Instant::now();
    c.kill(0);
    let log = c.restart_logged(0);
    let new_addr = c.addr(0).unwrap();
    assert_ne!(new_addr, old_addr, "a new process on a new port");
    c.wait_for(
        |m| m.contains(&format!("broker 0 at {new_addr}")),
        "the new life registers",
    );
    let took = killed.elapsed();
    assert!(
        took >= Duration::from_millis(2000),
        "registered {took:?} after the kill, before the old session could expire"
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("refused the registration: DUPLICATE_BROKER_REGISTRATION"),
        "the controller refused it while the old session lived:\n{said}"
    );
    c.wait_for(
        |m| leader_and_isr(m, "again").is_some_and(|(_, isr)| isr == 3),
        "the new life rejoins the ISR",
    );
    kcat_produce(&c.bootstrap(), "again", "all", "after").expect("writes go on");
    let values: Vec<String> = kcat_read(&c.bootstrap(), "again")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, vec!["before", "after"]);
}

/// KIP-903 on the running cluster: a follower's fetch carries its broker
/// epoch (`ReplicaState.ReplicaEpoch`, Fetch v15: the life of its broker
/// id that sent it), the leader names it in the AlterPartition that would
/// let the follower back into the ISR, and the controller refuses one
/// that is not the registered life's (`ReplicationControlManager
/// .ineligibleReplicasForIsr`): a fetch sent by a killed life, reaching
/// the leader late, cannot bring the broker's next life into the ISR.
/// Here broker F's second life is out of the ISR (its fetching paused),
/// and fetches standing for it are sent by hand at the leader's end: one
/// naming F's killed first life (0) leaves the ISR as it is, one naming
/// its second life (1) lets it back in.
#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn a_fetch_of_a_previous_life_cannot_bring_a_follower_back_into_the_isr() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{
        ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1", "--replica-lag-ms", "1000"]);
    c.metadata("lives");
    kcat_produce(&c.bootstrap(), "lives", "all", "a").expect("all three in sync");
    let (leader, _) = leader_and_isr(&c.metadata("lives"), "lives").unwrap();
    let f = (leader + 1) % 3;
    c.kill(f);
    c.restart(f);
    let back = format!("broker {f} at {}", c.addr(f).unwrap());
    c.wait_for(
        |m| m.contains(&back) && leader_and_isr(m, "lives") == Some((leader, 3)),
        "its second life rejoins the ISR",
    );
    c.brokers[f].as_ref().unwrap().signal("-USR1");
    kcat_produce(&c.bootstrap(), "lives", "1", "b").expect("acks=1: the leader alone");
    c.wait_for(
        |m| leader_and_isr(m, "lives") == Some((leader, 2)),
        "the paused follower leaves the ISR",
    );
    let at = c.addr(leader).unwrap();
    let mut ask = MetadataRequest::default();
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str("lives")));
    ask.topics = Some(vec![t]);
    let meta: MetadataResponse = common::kafka_call(&at, ApiKey::Metadata, 12, &ask);
    let (topic_id, leader_epoch) = (
        meta.topics[0].topic_id,
        meta.topics[0].partitions[0].leader_epoch,
    );
    // A fetch as F at the leader's end (offset 2: after "a" and "b", both
    // written in this leader epoch), from broker life `life`.
    let fetch_as = |life: i64| {
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.current_leader_epoch = leader_epoch;
        p.fetch_offset = 2;
        p.last_fetched_epoch = leader_epoch;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic_id = topic_id;
        t.partitions = vec![p];
        let mut replica = ReplicaState::default();
        replica.replica_id = BrokerId(f as i32);
        replica.replica_epoch = life;
        let mut r = FetchRequest::default();
        r.replica_state = replica;
        r.max_wait_ms = 0;
        r.min_bytes = 1;
        r.max_bytes = 1 << 20;
        r.topics = vec![t];
        let answer: FetchResponse = common::kafka_call(&at, ApiKey::Fetch, 15, &r);
        assert_eq!(answer.responses[0].topic_id, topic_id);
        assert_eq!(
            answer.responses[0].partitions[0].error_code, 0,
            "life {life}"
        );
    };
    fetch_as(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.controller_trace().iter().any(|l| {
        l["event"]["type"] == "AlterPartitionRejected"
            && l["event"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("INELIGIBLE_REPLICA") && r.contains("broker epoch"))
    }) {
        assert!(
            Instant::now() < deadline,
            "the controller refuses the expansion a previous life's fetch asks for"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        leader_and_isr(&c.metadata("lives"), "lives"),
        Some((leader, 2)),
        "F stays out of the ISR"
    );
    fetch_as(1);
    c.wait_for(
        |m| leader_and_isr(m, "lives") == Some((leader, 3)),
        "a fetch of its registered life lets it back in",
    );
    c.brokers[f].as_ref().unwrap().signal("-USR1");
    kcat_produce(&c.bootstrap(), "lives", "all", "c").expect("writes go on");
    let values: Vec<String> = kcat_read(&c.bootstrap(), "lives")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, vec!["a", "b", "c"]);
}
