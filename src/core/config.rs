//! The protocol's switches: the broker-side Kafka configs and the variants
//! of Kafka's history that the checker compares.

use serde::{Deserialize, Serialize};

/// Where a follower truncates when it may have diverged from the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Truncation {
    /// KIP-101/279/320: truncate to the end offset of the last common leader epoch.
    #[default]
    LeaderEpoch,
    /// Before Kafka 0.11: truncate to the local high watermark on restart and
    /// whenever a new leader is followed (the KIP-101 bug).
    HighWatermark,
}

/// Deliberate protocol bugs. Tests switch one on to prove that the checker
/// notices: each must turn some verdict red.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mutation {
    /// acks=all answers success before the ISR has the record.
    AckBeforeIsrHasRecord,
    /// Clean elections pick any live replica, in the ISR or not.
    ElectOutsideIsr,
    /// The HW moves to the leader's LEO, past lagging ISR members.
    HighWatermarkPastLaggingIsr,
    /// acks=all appends even when |ISR| < min.insync.replicas.
    SkipMinIsrCheck,
    /// A follower fetch that waited for its epoch is answered with records
    /// when that epoch begins, without the divergence check (issue 16).
    AnswerFetchBeforeCheckingIt,
    /// A leader that knows nothing of an idempotent producer refuses any
    /// first sequence but 0, as before KIP-360 (the model's old rule).
    RejectUnknownProducerSequence,
    /// A preferred-leader election may pick any live replica, in the ISR
    /// or not.
    PreferredLeaderOutsideIsr,
    /// A follower whose fetch was lost with its connection waits for the
    /// answer forever instead of fetching again.
    FetcherWaitsForLostFetch,
}

/// Broker-side configuration that changes protocol decisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProtocolConfig {
    /// `min.insync.replicas`.
    pub min_insync_replicas: u8,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
    /// KIP-966 Eligible Leader Replicas.
    pub eligible_leader_replicas: bool,
    /// Kafka 4.x: the high watermark does not advance while |ISR| < min.insync.replicas.
    pub strict_min_isr: bool,
    pub truncation: Truncation,
    /// `log.flush.interval.messages`; `None` leaves every append in the page cache.
    pub flush_interval_messages: Option<u64>,
    /// KAFKA-19996 (a proposal): under min.insync.replicas, a follower
    /// rejoins the ISR only once it has reached the leader's log end.
    #[serde(default)]
    pub caught_up_isr_expansion_under_min_isr: bool,
    /// KIP-841 (3.3): the controller refuses an AlterPartition that adds
    /// a fenced or shutting-down broker to the ISR.
    #[serde(default = "yes")]
    pub fenced_replicas_leave_isr: bool,
    /// KIP-903 (3.5, KRaft only): the controller refuses an AlterPartition
    /// whose joiner's broker epoch is not its registered one.
    #[serde(default = "yes")]
    pub broker_epoch_in_alter_partition: bool,
    /// A deliberate bug, for mutation tests only.
    pub mutation: Option<Mutation>,
}

fn yes() -> bool {
    true
}

impl ProtocolConfig {
    /// The min.insync.replicas a partition of `replicas` replicas is held
    /// to. Kafka accepts a setting above the replica count; from 3.7
    /// (KAFKA-15583, with the strict HW rule) every check uses
    /// `Partition.effectiveMinIsr`, capped at the replica count, and the
    /// controller `ReplicationControlManager.getTopicEffectiveMinIsr`;
    /// before, acks=all could never be satisfied.
    pub fn min_isr(&self, replicas: usize) -> usize {
        let set = usize::from(self.min_insync_replicas);
        if self.strict_min_isr {
            set.min(replicas)
        } else {
            set
        }
    }
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            min_insync_replicas: 1,
            unclean_leader_election: false,
            eligible_leader_replicas: false,
            strict_min_isr: false,
            truncation: Truncation::LeaderEpoch,
            flush_interval_messages: None,
            caught_up_isr_expansion_under_min_isr: false,
            fenced_replicas_leave_isr: true,
            broker_epoch_in_alter_partition: true,
            mutation: None,
        }
    }
}
