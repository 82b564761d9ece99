//! The Kafka settings whose values decide what the protocol guarantees,
//! under Kafka's names, each with one integer type, and Kafka's rules for
//! which combinations are possible: one `validate` that the model, the
//! scenario files, the CLI, the broker, the controller and torture all use.

use super::config::ProtocolConfig;
use super::error::ErrorCode;
use super::types::Acks;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The largest replication factor a partition can have: brokers are named
/// by a [`super::types::BrokerSet`] bit.
pub const MAX_REPLICATION_FACTOR: u8 = super::types::MAX_BROKERS;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// The producer's `acks`: 0, 1, all (or -1).
    #[serde(serialize_with = "ser_acks", deserialize_with = "de_acks")]
    pub acks: Acks,
    /// The producer's `enable.idempotence`.
    #[serde(rename = "enable.idempotence")]
    pub enable_idempotence: bool,
    /// The producer's `retries`: resends allowed per record.
    pub retries: u8,
    /// The topic's `replication.factor`.
    #[serde(rename = "replication.factor")]
    pub replication_factor: u8,
    /// The topic's `min.insync.replicas`.
    #[serde(rename = "min.insync.replicas")]
    pub min_insync_replicas: u8,
    /// The topic's `unclean.leader.election.enable`.
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean_leader_election_enable: bool,
    /// KIP-966 Eligible Leader Replicas (`eligible.leader.replicas.version=1`).
    #[serde(rename = "eligible.leader.replicas.enable")]
    pub eligible_leader_replicas_enable: bool,
    /// `log.flush.interval.messages` (the topic's `flush.messages`); `None`
    /// (Kafka's default, `Long.MAX_VALUE`) leaves fsync to the OS.
    #[serde(rename = "log.flush.interval.messages", default)]
    pub log_flush_interval_messages: Option<u64>,
}

/// A setting that cannot be, with the key it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    /// Kafka's name of the setting.
    pub key: &'static str,
    pub reason: String,
}

impl SettingError {
    /// The error a CreateTopics answer carries for it.
    pub fn error_code(&self) -> ErrorCode {
        match self.key {
            "replication.factor" => ErrorCode::InvalidReplicationFactor,
            _ => ErrorCode::InvalidConfig,
        }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

impl Default for KafkaSettings {
    /// The seed's canonical case: acks=all, RF=3, min.insync.replicas=2,
    /// one retry.
    fn default() -> Self {
        KafkaSettings {
            acks: Acks::All,
            enable_idempotence: false,
            retries: 1,
            replication_factor: 3,
            min_insync_replicas: 2,
            unclean_leader_election_enable: false,
            eligible_leader_replicas_enable: false,
            log_flush_interval_messages: None,
        }
    }
}

impl KafkaSettings {
    /// Rejects what Kafka rejects.
    pub fn validate(&self) -> Result<(), SettingError> {
        let err = |key, reason| Err(SettingError { key, reason });
        let rf = self.replication_factor;
        if rf == 0 || rf > MAX_REPLICATION_FACTOR {
            return err(
                "replication.factor",
                format!("must be between 1 and {MAX_REPLICATION_FACTOR}, not {rf}"),
            );
        }
        let min_isr = self.min_insync_replicas;
        if min_isr == 0 {
            return err("min.insync.replicas", "must be at least 1".into());
        }
        // Above the replica count is accepted, as Kafka accepts it (its
        // ConfigDef asks only for at least 1): before 3.7 no acks=all write
        // can then succeed; from 3.7 the replica count caps it
        // (`ProtocolConfig::min_isr`).
        if self.log_flush_interval_messages == Some(0) {
            return err("log.flush.interval.messages", "must be at least 1".into());
        }
        // Kafka's producer refuses an idempotent producer set up to lose
        // its guarantee (`ProducerConfig.postProcessAndValidateIdempotenceConfigs`,
        // when enable.idempotence is set explicitly, as it is here).
        if self.enable_idempotence && self.retries == 0 {
            return err(
                "enable.idempotence",
                "needs retries above 0: Kafka's producer refuses it (\"Must set retries \
                 to non-zero when using the idempotent producer\")"
                    .into(),
            );
        }
        if self.enable_idempotence && self.acks != Acks::All {
            return err(
                "enable.idempotence",
                format!(
                    "needs acks=all, not acks={}: Kafka's producer refuses it (\"Must set acks \
                     to all in order to use the idempotent producer\")",
                    self.acks
                ),
            );
        }
        Ok(())
    }

    /// The broker-side rules these settings make, with Kafka's released
    /// defaults for what they do not name.
    pub fn protocol(&self) -> ProtocolConfig {
        ProtocolConfig {
            min_insync_replicas: self.min_insync_replicas,
            unclean_leader_election: self.unclean_leader_election_enable,
            eligible_leader_replicas: self.eligible_leader_replicas_enable,
            flush_interval_messages: self.log_flush_interval_messages,
            ..ProtocolConfig::default()
        }
    }
}

pub fn ser_acks<S: Serializer>(a: &Acks, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

/// `acks` as Kafka writes it: 0, 1, all or -1, as a number or a string.
fn de_acks<'de, D: Deserializer<'de>>(d: D) -> Result<Acks, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Int(i64),
        Str(String),
    }
    let text = match Value::deserialize(d)? {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s,
    };
    text.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_rules_name_the_setting_they_break() {
        assert_eq!(KafkaSettings::default().validate(), Ok(()));
        let bad = |f: fn(&mut KafkaSettings)| {
            let mut s = KafkaSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        let above = KafkaSettings {
            min_insync_replicas: 4,
            ..KafkaSettings::default()
        };
        assert_eq!(above.validate(), Ok(()), "Kafka accepts it");
        let e = bad(|s| s.min_insync_replicas = 0);
        assert_eq!(e.error_code(), ErrorCode::InvalidConfig);
        assert_eq!(
            bad(|s| s.min_insync_replicas = 0).key,
            "min.insync.replicas"
        );
        let e = bad(|s| s.replication_factor = 0);
        assert_eq!(e.error_code(), ErrorCode::InvalidReplicationFactor);
        let e = bad(|s| {
            s.enable_idempotence = true;
            s.acks = Acks::One;
        });
        assert_eq!(e.key, "enable.idempotence");
        assert!(e.reason.contains("acks=all"), "{e}");
        let e = bad(|s| {
            s.enable_idempotence = true;
            s.retries = 0;
        });
        assert!(e.reason.contains("retries"), "{e}");
        let e = bad(|s| s.log_flush_interval_messages = Some(0));
        assert_eq!(e.key, "log.flush.interval.messages");
    }

    #[test]
    fn acks_reads_as_kafka_writes_it() {
        for (text, acks) in [
            ("acks = 0", Acks::Zero),
            ("acks = 1", Acks::One),
            ("acks = -1", Acks::All),
            ("acks = \"all\"", Acks::All),
            ("acks = \"-1\"", Acks::All),
        ] {
            let mut table: toml::Table = toml::Table::try_from(KafkaSettings::default()).unwrap();
            table.extend(toml::from_str::<toml::Table>(text).unwrap());
            let s: KafkaSettings = table.try_into().unwrap();
            assert_eq!(s.acks, acks, "{text}");
        }
        let mut table = toml::Table::try_from(KafkaSettings::default()).unwrap();
        table.insert("acks".into(), toml::Value::Integer(2));
        let e = table.try_into::<KafkaSettings>().unwrap_err().to_string();
        assert!(e.contains("acks must be 0, 1, all or -1"), "{e}");
    }
}
