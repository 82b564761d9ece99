//! Preferred-leader elections on the running cluster, each node its own
//! process: on demand through Kafka's ElectLeaders API (confluent-kafka's
//! AdminClient, as `kafka-leader-election.sh` asks), and by the
//! controller itself (`auto.leader.rebalance.enable`).

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
