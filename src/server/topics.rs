//! CreateTopics (v2–7) and the settings a topic may carry: the protocol
//! switches the model checks, under their Kafka topic-config names.

use super::shared::Shared;
use super::topic_settings::{TopicError, TopicSettings, check_topic_name};
use crate::core::error::ErrorCode;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

/// The topic configs a topic may set; anything else is refused rather
/// than silently ignored.
pub const TOPIC_CONFIGS: &[&str] = &[
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "flush.messages",
];

pub async fn create_topics(
    req: &CreateTopicsRequest,
    version: i16,
    shared: &Shared,
) -> CreateTopicsResponse {
    let mut r = CreateTopicsResponse::default();
    for topic in &req.topics {
        let name = topic.name.0.to_string();
        let mut t = CreatableTopicResult::default();
        t.name = topic.name.clone();
        let defaults = shared.lock().defaults.clone();
        let created = match settings(topic, &defaults) {
            Err(e) => Err(e),
            Ok(s) if req.validate_only => check_topic_name(&name).map(|()| s),
            Ok(s) => shared.create_topic(&name, s.clone()).await.map(|()| s),
        };
        match created {
            Ok(s) => {
                if version >= 5 {
                    t.num_partitions = s.partitions;
                    t.replication_factor = i16::from(s.kafka.replication_factor);
                }
                if version >= 7
                    && let Some(v) = shared.lock().view.topics.get(&name)
                {
                    t.topic_id = v.id;
                }
            }
            Err(e) => {
                t.error_code = e.code.code();
                t.error_message = Some(StrBytes::from_string(e.message));
                if version >= 5 {
                    t.num_partitions = -1;
                    t.replication_factor = -1;
                }
            }
        }
        r.topics.push(t);
    }
    r
}

/// The request's layout and configs over the broker's defaults.
fn settings(topic: &CreatableTopic, defaults: &TopicSettings) -> Result<TopicSettings, TopicError> {
    let mut s = defaults.clone();
    if topic.num_partitions != -1 {
        s.partitions = topic.num_partitions;
    }
    if topic.replication_factor != -1 {
        // Out of range reads as 0, which validation refuses with the reason.
        s.kafka.replication_factor = u8::try_from(topic.replication_factor).unwrap_or(0);
    }
    if !topic.assignments.is_empty() {
        return Err(config_error(
            "manual replica assignments are not supported".into(),
        ));
    }
    for c in &topic.configs {
        let key = c.name.as_str();
        let value = c.value.as_ref().map(|v| v.as_str()).unwrap_or("");
        apply_config(&mut s, key, value)?;
    }
    Ok(s)
}

/// Sets one topic config, or says why it cannot be set.
pub fn apply_config(s: &mut TopicSettings, key: &str, value: &str) -> Result<(), TopicError> {
    let bad = || config_error(format!("{key}={value:?} is not a valid value"));
    match key {
        "min.insync.replicas" => s.kafka.min_insync_replicas = value.parse().map_err(|_| bad())?,
        "unclean.leader.election.enable" => {
            s.kafka.unclean_leader_election_enable = value.parse().map_err(|_| bad())?
        }
        "flush.messages" => {
            let n: u64 = value.parse().map_err(|_| bad())?;
            // Kafka's default (Long.MAX_VALUE) means "never fsync".
            s.kafka.log_flush_interval_messages = (n < i64::MAX as u64).then_some(n);
        }
        _ => {
            return Err(config_error(format!(
                "topic config {key} is not supported; supported: {}",
                TOPIC_CONFIGS.join(", ")
            )));
        }
    }
    Ok(())
}

fn config_error(message: String) -> TopicError {
    TopicError {
        code: ErrorCode::InvalidConfig,
        message,
    }
}
