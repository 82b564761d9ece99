//! A topic's layout and settings, and Kafka's rules for which are
//! possible: what CreateTopics, the controller and the CLI all check.

use crate::core::config::ProtocolConfig;
use crate::core::error::ErrorCode;
use crate::core::release::{NEWEST, Rule};
use crate::core::settings::KafkaSettings;
use std::fmt;

/// How a new topic is laid out and which protocol rules its partitions follow.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicSettings {
    /// `num.partitions`.
    pub partitions: i32,
    /// The topic's `replication.factor`, `min.insync.replicas`,
    /// `unclean.leader.election.enable` and `flush.messages`; a producer's
    /// settings come with each of its requests instead.
    pub kafka: KafkaSettings,
}

/// Why a topic cannot be created, with Kafka's error code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicError {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

fn topic_error(code: ErrorCode, message: String) -> TopicError {
    TopicError { code, message }
}

impl TopicSettings {
    /// The rules its partitions follow: the newest release's. Among them
    /// the 3.7 rule that the HW stays put while |ISR| < min.insync.replicas
    /// (KAFKA-15583, `Partition.maybeIncrementLeaderHW` returning when
    /// `isUnderMinIsr`), which every Kafka broker since runs.
    pub fn protocol(&self) -> ProtocolConfig {
        ProtocolConfig {
            strict_min_isr: NEWEST.has(Rule::StrictMinIsr),
            ..self.kafka.protocol()
        }
    }

    /// Whether a topic could ever have these settings, whatever the
    /// cluster: the CLI checks its defaults with it, the controller every
    /// request (and then that enough brokers are live).
    pub fn check(&self) -> Result<(), TopicError> {
        let err = |code, message| Err(TopicError { code, message });
        if self.partitions < 1 {
            return err(
                ErrorCode::InvalidPartitions,
                format!("{} partitions: a topic needs at least one", self.partitions),
            );
        }
        self.kafka.validate().map_err(|e| TopicError {
            code: e.error_code(),
            message: e.to_string(),
        })?;
        Ok(())
    }
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            partitions: 1,
            kafka: KafkaSettings {
                replication_factor: 1,
                min_insync_replicas: 1,
                ..KafkaSettings::default()
            },
        }
    }
}

/// Kafka's `Topic.validate`: 1 to 249 characters of `[a-zA-Z0-9._-]`, and
/// not `.` or `..`.
pub fn check_topic_name(name: &str) -> Result<(), TopicError> {
    let bad = |why: &str| {
        Err(topic_error(
            ErrorCode::InvalidTopicException,
            format!("topic name '{name}' {why}"),
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name == "." || name == ".." {
        return bad("is not allowed");
    }
    if name.len() > 249 {
        return bad("is longer than 249 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("may hold only ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(check_topic_name("orders.v2_x-1").is_ok());
        for bad in ["", ".", "..", "a/b", "é", &"x".repeat(250)] {
            assert_eq!(
                check_topic_name(bad).unwrap_err().code,
                ErrorCode::InvalidTopicException,
                "{bad:?}"
            );
        }
    }
}
