//! A scenario's configuration: Kafka's settings plus the model's bounds.

use crate::core::config::{Mutation, ProtocolConfig, Truncation};
use crate::core::producer::ProducerConfig;
use crate::core::release::{KafkaVersion, Rule};
use crate::core::settings::KafkaSettings;
use crate::core::types::Acks;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashMode {
    /// kill -9: the page cache survives, so the whole log does.
    Process,
    /// Power loss: the log is cut back to its flushed offset.
    Machine,
}

impl FromStr for CrashMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "process" => Ok(CrashMode::Process),
            "machine" => Ok(CrashMode::Machine),
            other => Err(format!(
                "crash_mode must be \"process\" or \"machine\", not {other:?}"
            )),
        }
    }
}

impl fmt::Display for CrashMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CrashMode::Process => "process",
            CrashMode::Machine => "machine",
        })
    }
}

/// How the model's network delivers messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// TCP: FIFO per connection (Kafka's case, the default).
    Ordered,
    /// Any order, each message delivered at most once.
    UnorderedNonduplicating,
    /// Any order, and a message may be delivered again.
    UnorderedDuplicating,
}

impl FromStr for NetworkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ordered" => Ok(NetworkKind::Ordered),
            "unordered_nonduplicating" => Ok(NetworkKind::UnorderedNonduplicating),
            "unordered_duplicating" => Ok(NetworkKind::UnorderedDuplicating),
            other => Err(format!(
                "network must be ordered, unordered_nonduplicating or unordered_duplicating, not {other:?}"
            )),
        }
    }
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Ordered => "ordered",
            NetworkKind::UnorderedNonduplicating => "unordered_nonduplicating",
            NetworkKind::UnorderedDuplicating => "unordered_duplicating",
        })
    }
}

/// Everything one model check depends on. Kafka settings keep Kafka's
/// names in TOML and JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ModelConfig {
    /// Kafka's settings, under Kafka's names.
    #[serde(flatten)]
    pub kafka: KafkaSettings,
    /// The release whose rules and defaults apply (`None`: only the
    /// settings and switches given, each at the model's default).
    #[serde(rename = "kafka.version")]
    pub kafka_version: Option<KafkaVersion>,
    /// The Kafka 4.x rule: the HW stays put while |ISR| < min.insync.replicas.
    pub strict_min_isr: bool,
    /// KAFKA-19996, a proposal: set only by a `+KAFKA-19996` release.
    pub caught_up_isr_expansion_under_min_isr: bool,
    /// KIP-841 (3.3): no fenced broker joins the ISR.
    pub fenced_replicas_leave_isr: bool,
    /// KIP-903 (3.5): no fetch from a broker's previous life puts it back
    /// into the ISR.
    pub broker_epoch_in_alter_partition: bool,
    pub truncation: Truncation,
    /// `log.flush.interval.messages`; `None` never fsyncs.
    /// How many records the producer sends.
    pub records: u8,
    /// How many broker crashes one run may have (f).
    pub crashes: u8,
    pub crash_mode: CrashMode,
    /// How many times a live follower may be dropped from the ISR for lagging.
    pub lag_removals: u8,
    /// How many controlled shutdowns (SIGTERM, then a clean restart: one
    /// step of a rolling restart) one run may have.
    pub controlled_shutdowns: u8,
    /// How many preferred-leader elections (`auto.leader.rebalance.enable`)
    /// one run may have.
    pub preferred_elections: u8,
    /// One rolling restart: each broker in turn gets SIGTERM (a controlled
    /// shutdown) and restarts, the next only once the ISR is whole again.
    pub rolling_restart: bool,
    /// How many times one run may cut a live broker off from the controller
    /// and the other brokers (clients still reach it), then heal.
    pub network_partitions: u8,
    pub network: NetworkKind,
    /// Adds a consumer that reads the partition below the HW.
    pub consumer: bool,
    /// A deliberate protocol bug (mutation tests only; not in scenario files).
    #[serde(skip)]
    pub mutation: Option<Mutation>,
}

impl Default for ModelConfig {
    /// The seed's canonical case: RF=3, acks=all, min.insync.replicas=2,
    /// 2 records, one power loss, 2 lag removals. One retry suffices with
    /// one crash: the only retriable failure it causes is the lost leader.
    fn default() -> Self {
        ModelConfig {
            kafka: KafkaSettings::default(),
            kafka_version: None,
            strict_min_isr: false,
            caught_up_isr_expansion_under_min_isr: false,
            fenced_replicas_leave_isr: true,
            broker_epoch_in_alter_partition: true,
            truncation: Truncation::LeaderEpoch,
            records: 2,
            crashes: 1,
            crash_mode: CrashMode::Machine,
            lag_removals: 2,
            controlled_shutdowns: 0,
            preferred_elections: 0,
            rolling_restart: false,
            network_partitions: 0,
            network: NetworkKind::Ordered,
            consumer: false,
            mutation: None,
        }
    }
}

/// The largest replication factor the model accepts (Kafka's is larger).
pub const MAX_REPLICATION_FACTOR: u8 = 7;
/// The largest record count the model accepts.
pub const MAX_RECORDS: u8 = 50;

/// Which of the settings that differ between releases a user named (in a
/// scenario file or a flag): a release's defaults leave those alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Named {
    pub acks: bool,
    pub enable_idempotence: bool,
    pub eligible_leader_replicas: bool,
    pub strict_min_isr: bool,
    pub truncation: bool,
}

impl Named {
    pub fn or(self, o: Named) -> Named {
        Named {
            acks: self.acks || o.acks,
            enable_idempotence: self.enable_idempotence || o.enable_idempotence,
            eligible_leader_replicas: self.eligible_leader_replicas || o.eligible_leader_replicas,
            strict_min_isr: self.strict_min_isr || o.strict_min_isr,
            truncation: self.truncation || o.truncation,
        }
    }
}

impl ModelConfig {
    /// Kafka `v`'s rules and defaults for every release-dependent setting
    /// not `named`. Run it last, once every named setting is in place: the
    /// producer's default idempotence depends on the final acks and retries.
    pub fn apply_release(&mut self, v: KafkaVersion, named: Named) -> Result<(), String> {
        v.check_modelled()?;
        self.kafka_version = Some(v);
        if !named.acks {
            self.kafka.acks = if v.has(Rule::AcksAllByDefault) {
                Acks::All
            } else {
                Acks::One
            };
        }
        if !named.truncation {
            self.truncation = Truncation::LeaderEpoch;
        }
        if !named.strict_min_isr {
            self.strict_min_isr = v.has(Rule::StrictMinIsr);
        }
        self.caught_up_isr_expansion_under_min_isr = v.has(Rule::CaughtUpIsrExpansionUnderMinIsr);
        self.fenced_replicas_leave_isr = v.has(Rule::FencedReplicasLeaveIsr);
        self.broker_epoch_in_alter_partition = v.has(Rule::BrokerEpochInFetch);
        if !named.eligible_leader_replicas {
            // A cluster formatted at this release; an upgraded one names
            // eligible.leader.replicas.enable = false.
            self.kafka.eligible_leader_replicas_enable =
                v.has(Rule::EligibleLeaderReplicasByDefault);
        }
        if !named.enable_idempotence {
            // ProducerConfig.postProcessAndValidateIdempotenceConfigs: the
            // default gives way, quietly, to acks other than all or retries=0.
            self.kafka.enable_idempotence = v.has(Rule::IdempotenceByDefault)
                && self.kafka.acks == Acks::All
                && self.kafka.retries > 0;
        }
        Ok(())
    }

    /// Whether `o` is the same configuration, whatever release named it.
    pub fn same_rules(&self, o: &ModelConfig) -> bool {
        let strip = |c: &ModelConfig| ModelConfig {
            kafka_version: None,
            ..c.clone()
        };
        strip(self) == strip(o)
    }

    /// Rejects configurations Kafka would reject (`KafkaSettings::validate`),
    /// and bounds the model cannot hold.
    pub fn validate(&self) -> Result<(), String> {
        self.kafka.validate().map_err(|e| e.to_string())?;
        if let Some(v) = self.kafka_version
            && self.kafka.eligible_leader_replicas_enable
            && !v.has(Rule::EligibleLeaderReplicas)
        {
            return Err(format!(
                "eligible.leader.replicas.enable: Kafka {v} has no eligible leader replicas \
                 (KIP-966 ships in 4.0)"
            ));
        }
        let rf = self.kafka.replication_factor;
        if rf > MAX_REPLICATION_FACTOR {
            return Err(format!(
                "replication.factor: the model holds at most {MAX_REPLICATION_FACTOR} replicas, not {rf}"
            ));
        }
        if self.records == 0 || self.records > MAX_RECORDS {
            return Err(format!(
                "records must be between 1 and {MAX_RECORDS}, not {}",
                self.records
            ));
        }
        if [
            self.crashes,
            self.lag_removals,
            self.kafka.retries,
            self.controlled_shutdowns,
            self.preferred_elections,
            self.network_partitions,
        ]
        .iter()
        .any(|&n| n > 20)
        {
            return Err(
                "crashes, lag_removals, retries, controlled_shutdowns, preferred_elections \
                 and network_partitions must each be at most 20"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn protocol(&self) -> ProtocolConfig {
        ProtocolConfig {
            strict_min_isr: self.strict_min_isr,
            caught_up_isr_expansion_under_min_isr: self.caught_up_isr_expansion_under_min_isr,
            fenced_replicas_leave_isr: self.fenced_replicas_leave_isr,
            broker_epoch_in_alter_partition: self.broker_epoch_in_alter_partition,
            truncation: self.truncation,
            mutation: self.mutation,
            ..self.kafka.protocol()
        }
    }

    pub fn producer(&self) -> ProducerConfig {
        ProducerConfig {
            acks: self.kafka.acks,
            retries: self.kafka.retries,
            idempotence: self.kafka.enable_idempotence,
        }
    }

    /// One line naming what matters, for tables and progress bars.
    pub fn summary(&self) -> String {
        let k = &self.kafka;
        let mut s = format!(
            "acks={} min.isr={} rf={} crashes={} ({}) lag_removals={} records={} retries={}",
            k.acks,
            k.min_insync_replicas,
            k.replication_factor,
            self.crashes,
            self.crash_mode,
            self.lag_removals,
            self.records,
            k.retries
        );
        if let Some(v) = self.kafka_version {
            s.push_str(&format!(" kafka={v}"));
        }
        if self.controlled_shutdowns > 0 {
            s.push_str(&format!(
                " controlled_shutdowns={}",
                self.controlled_shutdowns
            ));
        }
        if self.network_partitions > 0 {
            s.push_str(&format!(" network_partitions={}", self.network_partitions));
        }
        if self.rolling_restart {
            s.push_str(" rolling_restart");
        }
        if self.preferred_elections > 0 {
            s.push_str(&format!(
                " preferred_elections={}",
                self.preferred_elections
            ));
        }
        if k.unclean_leader_election_enable {
            s.push_str(" unclean");
        }
        if k.eligible_leader_replicas_enable {
            s.push_str(" elr");
        }
        if self.strict_min_isr {
            s.push_str(" strict-min-isr");
        }
        if self.truncation == Truncation::HighWatermark {
            s.push_str(" truncation=high-watermark");
        }
        if let Some(n) = k.log_flush_interval_messages {
            s.push_str(&format!(" flush-every={n}"));
        }
        if k.enable_idempotence {
            s.push_str(" idempotence");
        }
        if self.network != NetworkKind::Ordered {
            s.push_str(&format!(" network={}", self.network));
        }
        if self.consumer {
            s.push_str(" consumer");
        }
        s
    }
}
