//! Leader elections on the running cluster, each node its own process:
//! preferred and unclean ones on demand through Kafka's ElectLeaders API
//! (confluent-kafka's AdminClient, as `kafka-leader-election.sh` asks),
//! and preferred ones by the controller itself
//! (`auto.leader.rebalance.enable`).

mod common;

use common::{Procs, kcat_produce_all, kcat_read, leader_and_isr, run_script};
use serde_json::{Value, json};

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Partition 0 of `topic` led away from its preferred replica with no
/// failure: the leader stops cleanly (SIGTERM) and comes back. Answers
/// the preferred replica.
fn displace_the_preferred_leader(c: &mut Procs, topic: &str) -> usize {
    let (preferred, isr) = leader_and_isr(&c.metadata(topic), topic).unwrap();
    assert_eq!(isr, 3);
    c.stop(preferred, true);
    c.wait_for(
        |m| leader_and_isr(m, topic).is_some_and(|(l, _)| l != preferred),
        "another replica leads",
    );
    c.restart(preferred);
    preferred
}

fn elect(c: &Procs, kind: &str, partitions: &[&str]) -> Value {
    let mut args = vec![c.bootstrap(), kind.to_string()];
    args.extend(partitions.iter().map(|p| p.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_script("elect_leaders.py", &args)
}

#[test]
#[ignore = "needs kcat and confluent-kafka: scripts/install-clients"]
fn elect_leaders_moves_leadership_back_to_the_preferred_replica_on_demand() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start_with(
        3,
        &["--min-isr", "2"],
        &["--auto-leader-rebalance-enable", "false"],
    );
    c.metadata("pref");
    let mut acked = values("a", 50);
    kcat_produce_all(&c.bootstrap(), "pref", "all", &acked).expect("in sync");
    let preferred = displace_the_preferred_leader(&mut c, "pref");
    c.wait_for(
        |m| leader_and_isr(m, "pref").is_some_and(|(l, isr)| l != preferred && isr == 3),
        "the preferred replica is back in the ISR, not leading",
    );
    // librdkafka spells UNKNOWN_TOPIC_OR_PARTITION (3) its own way.
    let r = elect(&c, "PREFERRED", &["pref:0", "nosuch:0", "pref:7"]);
    assert_eq!(
        r["results"],
        json!({"pref:0": null, "nosuch:0": "UNKNOWN_TOPIC_OR_PART",
               "pref:7": "UNKNOWN_TOPIC_OR_PART"}),
        "{r}"
    );
    c.wait_for(
        |m| leader_and_isr(m, "pref") == Some((preferred, 3)),
        "the preferred replica leads again",
    );
    let r = elect(&c, "PREFERRED", &["pref:0"]);
    assert_eq!(
        r["results"],
        json!({"pref:0": "ELECTION_NOT_NEEDED"}),
        "{r}"
    );
    let r = elect(&c, "UNCLEAN", &["pref:0"]);
    assert_eq!(
        r["results"],
        json!({"pref:0": "ELECTION_NOT_NEEDED"}),
        "{r}"
    );

    // With the preferred replica dead, it cannot lead.
    c.kill(preferred);
    c.wait_for(
        |m| leader_and_isr(m, "pref").is_some_and(|(l, isr)| l != preferred && isr == 2),
        "another replica leads",
    );
    let r = elect(&c, "PREFERRED", &["pref:0"]);
    assert_eq!(
        r["results"],
        json!({"pref:0": "PREFERRED_LEADER_NOT_AVAILABLE"}),
        "{r}"
    );
    c.restart(preferred);
    c.wait_for(
        |m| leader_and_isr(m, "pref").is_some_and(|(_, isr)| isr == 3),
        "it rejoins the ISR",
    );
    // Every partition: only those that moved are answered.
    let r = elect(&c, "PREFERRED", &[]);
    assert_eq!(r["results"], json!({"pref:0": null}), "{r}");
    c.wait_for(
        |m| leader_and_isr(m, "pref") == Some((preferred, 3)),
        "the preferred replica leads again",
    );
    let more = values("b", 50);
    kcat_produce_all(&c.bootstrap(), "pref", "all", &more).expect("writes go on");
    acked.extend(more);
    let read: Vec<String> = kcat_read(&c.bootstrap(), "pref")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(read, acked, "every acknowledged record, in order");
}

#[test]
#[ignore = "needs kcat: scripts/install-clients"]
fn the_controller_moves_leadership_back_to_the_preferred_replica_by_itself() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start_with(
        3,
        &["--min-isr", "2"],
        &["--leader-imbalance-check-interval-ms", "500"],
    );
    c.metadata("home");
    let preferred = displace_the_preferred_leader(&mut c, "home");
    c.wait_for(
        |m| leader_and_isr(m, "home") == Some((preferred, 3)),
        "the preferred replica leads again, with no request",
    );
    let preferred_elections = c
        .controller_trace()
        .iter()
        .filter(|l| l["topic"] == "home" && l["event"]["type"] == "LeaderElected")
        .filter(|l| l["event"]["kind"] == "Preferred" && l["event"]["broker"] == preferred)
        .count();
    assert_eq!(preferred_elections, 1, "one preferred-leader election");
}

/// Partition 0 of `topic` in `kcat -L` output: its leader (-1 for none),
/// replicas and ISR.
fn partition_0(meta: &str, topic: &str) -> Option<(i32, Vec<usize>, Vec<usize>)> {
    let start = meta.find(&format!("topic \"{topic}\""))?;
    let line = meta[start..].lines().find(|l| l.contains("partition 0,"))?;
    let field = |name: &str| {
        line.split(name)
            .nth(1)
            .map(|rest| rest.split(", ").next().unwrap_or(""))
    };
    let ids = |text: &str| -> Vec<usize> {
        text.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let leader = field("leader ")?.trim().parse().ok()?;
    let replicas = ids(line.split("replicas: ").nth(1)?.split(", isrs").next()?);
    let isr = ids(line.split("isrs: ").nth(1)?);
    Some((leader, replicas, isr))
}

/// Kafka's ElectLeaders of type UNCLEAN elects any live replica of a
/// leaderless partition even when the topic says
/// `unclean.leader.election.enable=false` (`ReplicationControlManager
/// .electLeader` → `PartitionChangeBuilder.electAnyLeader`). The new
/// leader leads alone in the ISR with the log it has, so what only the
/// lost leader held is gone: the old leader, back, truncates to the new
/// one's log (KIP-320's diverging epoch) and rejoins the ISR.
#[test]
#[ignore = "needs kcat and confluent-kafka: scripts/install-clients"]
fn an_unclean_election_on_demand_gives_a_leaderless_partition_a_leader() {
    let _one_at_a_time = common::serial();
    let mut c = Procs::start(3, &["--min-isr", "1"]);
    let created = run_script(
        "create_topic.py",
        &[
            &c.bootstrap(),
            "strict",
            "1",
            "2",
            "unclean.leader.election.enable=false",
        ],
    );
    assert_eq!(created["created"], true, "{created}");
    let meta = c.wait_for(
        |m| partition_0(m, "strict").is_some_and(|(l, _, isr)| l >= 0 && isr.len() == 2),
        "both replicas in sync",
    );
    let (old_leader, replicas, _) = partition_0(&meta, "strict").unwrap();
    let old_leader = usize::try_from(old_leader).unwrap();
    let survivor = *replicas.iter().find(|b| **b != old_leader).unwrap();
    let mut acked = values("a", 10);
    kcat_produce_all(&c.bootstrap(), "strict", "all", &acked).expect("in sync");
    // The follower dies; the leader alone takes more, then dies too.
    c.kill(survivor);
    c.wait_for(
        |m| partition_0(m, "strict").is_some_and(|(_, _, isr)| isr == vec![old_leader]),
        "the ISR shrinks to the leader",
    );
    let lost = values("b", 10);
    kcat_produce_all(&c.bootstrap(), "strict", "all", &lost).expect("the leader alone");
    c.kill(old_leader);
    c.restart(survivor);
    c.wait_for(
        |m| m.contains(" 2 brokers:") && partition_0(m, "strict").is_some_and(|(l, ..)| l == -1),
        "the survivor is back and the partition has no leader",
    );
    // The controller elects no one by itself: the topic forbids it.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let meta = c.metadata("strict");
    assert_eq!(
        partition_0(&meta, "strict"),
        Some((-1, replicas.clone(), vec![old_leader])),
        "{meta}"
    );

    let r = elect(&c, "UNCLEAN", &["strict:0"]);
    assert_eq!(r["results"], json!({"strict:0": null}), "{r}");
    let meta = c.wait_for(
        |m| partition_0(m, "strict").is_some_and(|(l, ..)| l >= 0),
        "the survivor leads",
    );
    assert_eq!(
        partition_0(&meta, "strict"),
        Some((survivor as i32, replicas.clone(), vec![survivor])),
        "it leads alone in the ISR: {meta}"
    );
    let unclean = c
        .controller_trace()
        .iter()
        .filter(|l| l["topic"] == "strict" && l["event"]["type"] == "LeaderElected")
        .filter(|l| l["event"]["kind"] == "Unclean" && l["event"]["broker"] == survivor)
        .count();
    assert_eq!(unclean, 1, "one unclean election");
    let r = elect(&c, "UNCLEAN", &["strict:0"]);
    assert_eq!(
        r["results"],
        json!({"strict:0": "ELECTION_NOT_NEEDED"}),
        "{r}"
    );

    // The old leader comes back behind the new one: what only it held goes.
    c.restart(old_leader);
    c.wait_for(
        |m| {
            partition_0(m, "strict")
                .is_some_and(|(l, _, isr)| l == survivor as i32 && isr.len() == 2)
        },
        "the old leader truncates and rejoins the ISR",
    );
    let more = values("c", 10);
    kcat_produce_all(&c.bootstrap(), "strict", "all", &more).expect("both in sync");
    acked.extend(more);
    let read: Vec<String> = kcat_read(&c.bootstrap(), "strict")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        read, acked,
        "the b records, acknowledged by the old leader alone, are lost"
    );
    // The old leader's log is the new one's: it leads the same records.
    c.kill(survivor);
    c.wait_for(
        |m| partition_0(m, "strict").is_some_and(|(l, ..)| l == old_leader as i32),
        "the old leader leads again",
    );
    let read: Vec<String> = kcat_read(&c.bootstrap(), "strict")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(read, acked, "the old leader truncated its b records away");
}
