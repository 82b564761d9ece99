//! A scenario's configuration: Kafka's settings plus the model's bounds.

use crate::core::config::{Mutation, ProtocolConfig, Truncation};
use crate::core::producer::ProducerConfig;
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
    #[serde(serialize_with = "ser_display")]
    pub acks: Acks,
    #[serde(rename = "min.insync.replicas")]
    pub min_insync_replicas: u8,
    #[serde(rename = "replication.factor")]
    pub replication_factor: u8,
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean_leader_election: bool,
    /// KIP-966 Eligible Leader Replicas.
    #[serde(rename = "eligible.leader.replicas.enable")]
    pub eligible_leader_replicas: bool,
    /// The Kafka 4.x rule: the HW stays put while |ISR| < min.insync.replicas.
    pub strict_min_isr: bool,
    pub truncation: Truncation,
    /// `log.flush.interval.messages`; `None` never fsyncs.
    #[serde(rename = "log.flush.interval.messages")]
    pub flush_interval_messages: Option<u64>,
    #[serde(rename = "enable.idempotence")]
    pub enable_idempotence: bool,
    pub retries: u8,
    /// How many records the producer sends.
    pub records: u8,
    /// How many broker crashes one run may have (f).
    pub crashes: u8,
    pub crash_mode: CrashMode,
    /// How many times a live follower may be dropped from the ISR for lagging.
    pub lag_removals: u8,
    pub network: NetworkKind,
    /// Adds a consumer that reads the partition below the HW.
    pub consumer: bool,
    /// A deliberate protocol bug (mutation tests only; not in scenario files).
    #[serde(skip)]
    pub mutation: Option<Mutation>,
}

fn ser_display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Default for ModelConfig {
    /// The seed's canonical case: RF=3, acks=all, min.insync.replicas=2,
    /// 2 records, one power loss, 2 lag removals. One retry suffices with
    /// one crash: the only retriable failure it causes is the lost leader.
    fn default() -> Self {
        ModelConfig {
            acks: Acks::All,
            min_insync_replicas: 2,
            replication_factor: 3,
            unclean_leader_election: false,
            eligible_leader_replicas: false,
            strict_min_isr: false,
            truncation: Truncation::LeaderEpoch,
            flush_interval_messages: None,
            enable_idempotence: false,
            retries: 1,
            records: 2,
            crashes: 1,
            crash_mode: CrashMode::Machine,
            lag_removals: 2,
            network: NetworkKind::Ordered,
            consumer: false,
            mutation: None,
        }
    }
}

/// The largest replication factor the model accepts.
pub const MAX_REPLICATION_FACTOR: u8 = 7;
/// The largest record count the model accepts.
pub const MAX_RECORDS: u8 = 50;

impl ModelConfig {
    /// Rejects configurations Kafka would reject, and bounds the model cannot hold.
    pub fn validate(&self) -> Result<(), String> {
        if self.replication_factor == 0 || self.replication_factor > MAX_REPLICATION_FACTOR {
            return Err(format!(
                "replication.factor must be between 1 and {MAX_REPLICATION_FACTOR}, not {}",
                self.replication_factor
            ));
        }
        if self.min_insync_replicas == 0 {
            return Err("min.insync.replicas must be at least 1".into());
        }
        if self.min_insync_replicas > self.replication_factor {
            return Err(format!(
                "min.insync.replicas ({}) is larger than replication.factor ({}): no write with acks=all could ever succeed",
                self.min_insync_replicas, self.replication_factor
            ));
        }
        if self.records == 0 || self.records > MAX_RECORDS {
            return Err(format!(
                "records must be between 1 and {MAX_RECORDS}, not {}",
                self.records
            ));
        }
        if self.flush_interval_messages == Some(0) {
            return Err("log.flush.interval.messages must be at least 1".into());
        }
        if self.crashes > 20 || self.lag_removals > 20 || self.retries > 20 {
            return Err("crashes, lag_removals and retries must each be at most 20".into());
        }
        Ok(())
    }

    pub fn protocol(&self) -> ProtocolConfig {
        ProtocolConfig {
            min_insync_replicas: self.min_insync_replicas as usize,
            unclean_leader_election: self.unclean_leader_election,
            eligible_leader_replicas: self.eligible_leader_replicas,
            strict_min_isr: self.strict_min_isr,
            truncation: self.truncation,
            flush_interval_messages: self.flush_interval_messages,
            mutation: self.mutation,
        }
    }

    pub fn producer(&self) -> ProducerConfig {
        ProducerConfig {
            acks: self.acks,
            retries: self.retries,
        }
    }

    /// One line naming what matters, for tables and progress bars.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "acks={} min.isr={} rf={} crashes={} ({}) lag_removals={} records={} retries={}",
            self.acks,
            self.min_insync_replicas,
            self.replication_factor,
            self.crashes,
            self.crash_mode,
            self.lag_removals,
            self.records,
            self.retries
        );
        if self.unclean_leader_election {
            s.push_str(" unclean");
        }
        if self.eligible_leader_replicas {
            s.push_str(" elr");
        }
        if self.strict_min_isr {
            s.push_str(" strict-min-isr");
        }
        if self.truncation == Truncation::HighWatermark {
            s.push_str(" truncation=high-watermark");
        }
        if let Some(n) = self.flush_interval_messages {
            s.push_str(&format!(" flush-every={n}"));
        }
        if self.enable_idempotence {
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
