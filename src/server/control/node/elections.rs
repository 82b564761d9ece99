//! Leader elections asked for rather than forced by a failure: the
//! preferred-replica balance (`auto.leader.rebalance.enable`) and the
//! ElectLeaders API. Preferred ones go through the core's
//! `ElectPreferred`, so the model checks the very rule that moves leaders
//! here; UNCLEAN ones through its `ElectUnclean`.

use super::{ControllerNode, Input};
use crate::core::error::ErrorCode;
use crate::core::types::BrokerId;
use crate::server::control::wire::{ElectionResult, ElectionType, TopicElections};

impl ControllerNode {
    /// Every partition whose leader is not its preferred replica (the
    /// first of its assignment) moves back to it where that replica is a
    /// live ISR member (`ReplicationControlManager
    /// .maybeBalancePartitionLeaders`, every
    /// `leader.imbalance.check.interval.seconds`). Answers how many moved.
    pub fn balance_leaders(&mut self) -> usize {
        let keys: Vec<_> = self.partitions.keys().cloned().collect();
        let moved = keys
            .iter()
            .filter(|key| self.elect_preferred(key).is_ok())
            .count();
        if moved > 0 {
            self.settle();
        }
        moved
    }

    /// ElectLeaders, forwarded by a broker as KRaft brokers forward it
    /// (`ReplicationControlManager.electLeaders`). With no partitions named,
    /// every partition is tried and those already led as asked are left
    /// out of the answer.
    pub fn elect_leaders(
        &mut self,
        election: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<TopicElections> {
        let every = partitions.is_none();
        let asked = partitions.unwrap_or_else(|| {
            let mut all: Vec<(String, Vec<i32>)> = Vec::new();
            for (topic, p) in self.partitions.keys() {
                match all.last_mut() {
                    Some((t, ps)) if t == topic => ps.push(*p),
                    _ => all.push((topic.clone(), vec![*p])),
                }
            }
            all
        });
        let mut out = Vec::new();
        for (topic, ids) in asked {
            let mut results = Vec::new();
            for partition in ids {
                let key = (topic.clone(), partition);
                let r = match election {
                    ElectionType::Preferred => self.elect_preferred(&key),
                    ElectionType::Unclean => self.elect_unclean(&key),
                };
                let (error, message) = match r {
                    Ok(()) => (None, None),
                    Err((code, _)) if every && code == ErrorCode::ElectionNotNeeded => continue,
                    Err((code, why)) => (Some(code), why),
                };
                results.push(ElectionResult {
                    partition,
                    error,
                    message,
                });
            }
            out.push(TopicElections { topic, results });
        }
        self.settle();
        out
    }

    /// The model's preferred election on the running cluster: leadership
    /// moves to `to`, or the first other live ISR member in assignment
    /// order, through the core's `ElectPreferred`. The assignment is kept,
    /// so `auto.leader.rebalance.enable` may move it back later.
    pub fn move_leader(
        &mut self,
        key: &(String, i32),
        to: Option<BrokerId>,
    ) -> Result<BrokerId, ErrorCode> {
        let p = self
            .partitions
            .get(key)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if to.is_some() && to == p.core.state.leader {
            return Err(ErrorCode::ElectionNotNeeded);
        }
        let candidates = p.core.preferred_candidates(&p.protocol);
        let chosen = match to {
            Some(b) => candidates.contains(b).then_some(b),
            None => p
                .assignment
                .iter()
                .copied()
                .find(|b| candidates.contains(*b)),
        };
        let b = chosen.ok_or(ErrorCode::PreferredLeaderNotAvailable)?;
        self.step(key, Input::ElectPreferred(b));
        self.settle();
        Ok(b)
    }

    /// `PartitionChangeBuilder` with `Election.PREFERRED`: the first
    /// replica of the assignment leads if it is an acceptable leader in
    /// the ISR; the core decides which are.
    fn elect_preferred(&mut self, key: &(String, i32)) -> Result<(), (ErrorCode, Option<String>)> {
        let p = self.partitions.get(key).ok_or_else(|| unknown(key))?;
        let preferred: BrokerId = p.assignment[0];
        if p.core.state.leader == Some(preferred) {
            return Err((ErrorCode::ElectionNotNeeded, None));
        }
        if !p.core.preferred_candidates(&p.protocol).contains(preferred) {
            return Err((
                ErrorCode::PreferredLeaderNotAvailable,
                Some(format!(
                    "preferred replica {preferred} of {}-{} is not a live ISR member",
                    key.0, key.1
                )),
            ));
        }
        self.step(key, Input::ElectPreferred(preferred));
        Ok(())
    }

    /// `Election.UNCLEAN` on demand (`ReplicationControlManager
    /// .electLeader`): only a leaderless partition needs it, and it may
    /// elect a replica the topic's `unclean.leader.election.enable` keeps
    /// the controller's own elections from; the core decides whom. As
    /// `PartitionChangeBuilder.electAnyLeader`, the first candidate in
    /// assignment order wins.
    fn elect_unclean(&mut self, key: &(String, i32)) -> Result<(), (ErrorCode, Option<String>)> {
        let p = self.partitions.get(key).ok_or_else(|| unknown(key))?;
        if p.core.state.leader.is_some() {
            return Err((ErrorCode::ElectionNotNeeded, None));
        }
        let (candidates, _) = p.core.unclean_candidates(&p.protocol);
        match p.assignment.iter().find(|b| candidates.contains(**b)) {
            Some(&b) => {
                self.step(key, Input::ElectUnclean(b));
                Ok(())
            }
            None => Err((ErrorCode::EligibleLeadersNotAvailable, None)),
        }
    }
}

fn unknown(key: &(String, i32)) -> (ErrorCode, Option<String>) {
    (
        ErrorCode::UnknownTopicOrPartition,
        Some(format!("no such partition as {}-{}", key.0, key.1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::BrokerSet;
    use crate::server::control::node::tests::{cluster, cluster_traced, drain, settings};
    use crate::server::control::records::MetadataRecord;
    use crate::server::control::wire::ToBroker;
    use std::time::Duration;

    fn code(r: &[TopicElections], topic: &str, partition: i32) -> Option<Option<ErrorCode>> {
        r.iter()
            .filter(|t| t.topic == topic)
            .flat_map(|t| &t.results)
            .find(|p| p.partition == partition)
            .map(|p| p.error)
    }

    #[test]
    fn preferred_elections_answer_as_kafkas_controller_does() {
        let (mut c, _rxs, start) = cluster(3);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let t0 = ("t".to_string(), 0);
        // Broker 0, preferred for partition 0, falls silent; 1 takes over.
        let later = start + Duration::from_millis(1500);
        c.heartbeat(1, 1, later);
        c.heartbeat(2, 2, later);
        c.tick(later);
        assert_eq!(c.partitions[&t0].core.state.leader, Some(1));
        let r = c.elect_leaders(
            ElectionType::Preferred,
            Some(vec![("t".into(), vec![0, 9])]),
        );
        assert_eq!(
            code(&r, "t", 0),
            Some(Some(ErrorCode::PreferredLeaderNotAvailable))
        );
        assert_eq!(
            code(&r, "t", 9),
            Some(Some(ErrorCode::UnknownTopicOrPartition))
        );
        assert_eq!(c.balance_leaders(), 0, "nobody to move yet");
        // It comes back in the ISR (a paused broker speaking again).
        c.heartbeat(0, 0, later);
        let p = c.partitions[&t0].core.state;
        c.alter_partition(
            1,
            1,
            "t".into(),
            0,
            p.leader_epoch,
            p.partition_epoch,
            BrokerSet::of([0, 1, 2]),
            Some((0, 0)),
        );
        let r = c.elect_leaders(ElectionType::Preferred, None);
        assert_eq!(code(&r, "t", 0), Some(None), "moved: {r:?}");
        assert_eq!(code(&r, "t", 1), None, "already led as preferred: left out");
        assert_eq!(c.partitions[&t0].core.state.leader, Some(0));
        let r = c.elect_leaders(ElectionType::Preferred, Some(vec![("t".into(), vec![0])]));
        assert_eq!(code(&r, "t", 0), Some(Some(ErrorCode::ElectionNotNeeded)));
        let r = c.elect_leaders(ElectionType::Unclean, Some(vec![("t".into(), vec![0])]));
        assert_eq!(code(&r, "t", 0), Some(Some(ErrorCode::ElectionNotNeeded)));
    }

    /// A partition whose topic forbids unclean elections loses its last
    /// ISR member: the controller elects no one by itself, and an UNCLEAN
    /// ElectLeaders request elects the first live replica of the
    /// assignment, alone in the ISR (`PartitionChangeBuilder.tryElection`),
    /// durably and told to the brokers. A partition with no live replica
    /// gets ELIGIBLE_LEADERS_NOT_AVAILABLE (`ReplicationControlManager
    /// .electLeader`).
    #[test]
    fn an_unclean_election_elects_whatever_the_topic_says() {
        let (mut c, mut rxs, start) = cluster_traced(3, true);
        c.create_topic("t", &settings(3, 2)).unwrap();
        let mut lonely = settings(1, 1);
        lonely.partitions = 1;
        c.create_topic("solo", &lonely).unwrap();
        let t0 = ("t".to_string(), 0);
        assert_eq!(c.partitions[&t0].assignment, vec![0, 1, 2]);
        assert!(!c.partitions[&t0].protocol.unclean_leader_election);
        let solo_replica = c.partitions[&("solo".to_string(), 0)].assignment[0];
        // Broker 0, leading t-0, shrinks the ISR to itself, then falls
        // silent with the broker hosting solo-0.
        let p = c.partitions[&t0].core.state;
        c.alter_partition(
            0,
            0,
            "t".into(),
            0,
            p.leader_epoch,
            p.partition_epoch,
            BrokerSet::of([0]),
            None,
        );
        let later = start + Duration::from_millis(1500);
        for b in (1..3).filter(|b| *b != solo_replica) {
            c.heartbeat(b, u64::from(b), later);
        }
        c.tick(later);
        let before = c.partitions[&t0].core.state;
        assert_eq!(
            (before.leader, before.isr),
            (None, BrokerSet::of([0])),
            "no clean election, and the topic forbids unclean ones"
        );
        c.take_ready().deliver();
        for rx in &mut rxs {
            drain(rx);
        }
        c.events.clear();

        let asked = vec![("t".into(), vec![0]), ("solo".into(), vec![0])];
        let r = c.elect_leaders(ElectionType::Unclean, Some(asked));
        assert_eq!(code(&r, "t", 0), Some(None), "{r:?}");
        assert_eq!(
            code(&r, "solo", 0),
            Some(Some(ErrorCode::EligibleLeadersNotAvailable))
        );
        let winner = (1..3).find(|b| *b != solo_replica).unwrap();
        let after = c.partitions[&t0].core.state;
        assert_eq!(
            (after.leader, after.isr, after.elr),
            (Some(winner), BrokerSet::of([winner]), BrokerSet::EMPTY)
        );
        assert_eq!(after.leader_epoch, before.leader_epoch + 1);
        let kinds: Vec<_> = c
            .events
            .iter()
            .filter(|l| l["event"]["type"] == "LeaderElected")
            .map(|l| (l["topic"].clone(), l["event"]["kind"].clone()))
            .collect();
        assert_eq!(kinds, vec![("t".into(), "Unclean".into())]);
        let ready = c.take_ready();
        assert!(
            ready.records.iter().any(|(_, rec)| matches!(
                rec,
                MetadataRecord::PartitionChange { topic, partition: 0, state, .. }
                    if topic == "t" && state.leader == Some(winner)
            )),
            "the election is a metadata record"
        );
        ready.deliver();
        let told = drain(&mut rxs[usize::from(winner)]);
        assert!(
            told.iter().any(|m| matches!(
                m,
                ToBroker::LeaderAndIsr { topic, partition: 0, state, .. }
                    if topic == "t" && state.leader == Some(winner)
                        && state.isr == BrokerSet::of([winner])
            )),
            "the new leader learns it leads alone: {told:?}"
        );
        let again = c.elect_leaders(ElectionType::Unclean, Some(vec![("t".into(), vec![0])]));
        assert_eq!(
            code(&again, "t", 0),
            Some(Some(ErrorCode::ElectionNotNeeded))
        );
    }
}
