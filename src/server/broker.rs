//! One broker's state: its partitions, the cluster as Metadata reports it,
//! and the topic settings it creates partitions with. No I/O: the listener
//! locks it for each request and runs the protocol core through it.

use super::metadata::{BrokerAddr, ClusterView, PartitionView, TopicView};
use super::partition::Partition;
use crate::core::config::ProtocolConfig;
use crate::core::messages::PartitionState;
use crate::core::types::{BrokerId, BrokerSet};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use uuid::Uuid;

/// Kafka's INVALID_TOPIC_EXCEPTION error code.
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
/// Kafka's TOPIC_ALREADY_EXISTS error code.
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
/// Kafka's INVALID_PARTITIONS error code.
pub const INVALID_PARTITIONS: i16 = 37;
/// Kafka's INVALID_REPLICATION_FACTOR error code.
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
/// Kafka's INVALID_CONFIG error code.
pub const INVALID_CONFIG: i16 = 40;

/// How a new topic is laid out and which protocol rules its partitions follow.
#[derive(Clone, Debug)]
pub struct TopicSettings {
    /// `num.partitions`.
    pub partitions: i32,
    /// `replication.factor` (`default.replication.factor`).
    pub replication_factor: usize,
    pub protocol: ProtocolConfig,
}

/// Why a topic cannot be created, with Kafka's error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicError {
    pub code: i16,
    pub message: String,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.message, self.code)
    }
}

fn topic_error(code: i16, message: String) -> TopicError {
    TopicError { code, message }
}

/// The broker as every connection of it sees it.
#[derive(Debug)]
pub struct Shared {
    broker: Mutex<Broker>,
    /// Woken whenever a log or high watermark may have moved, so that
    /// waiting fetches look again.
    pub changed: Notify,
}

impl Shared {
    pub fn new(broker: Broker) -> Self {
        Shared {
            broker: Mutex::new(broker),
            changed: Notify::new(),
        }
    }

    /// The broker, for one request's synchronous part.
    pub fn lock(&self) -> MutexGuard<'_, Broker> {
        match self.broker.lock() {
            Ok(b) => b,
            // A protocol assertion failed while the state was held: the
            // state may break Kafka's rules, so stop rather than serve it.
            Err(_) => {
                eprintln!("insync: a protocol invariant broke; stopping the broker");
                std::process::abort()
            }
        }
    }
}

impl Default for Shared {
    /// A broker 0 alone, with Kafka's topic defaults; for tests.
    fn default() -> Self {
        Shared::new(Broker::single(
            BrokerAddr {
                id: 0,
                host: "127.0.0.1".into(),
                port: 9092,
            },
            TopicSettings::default(),
        ))
    }
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            partitions: 1,
            replication_factor: 1,
            protocol: ProtocolConfig::default(),
        }
    }
}

#[derive(Debug)]
pub struct Broker {
    pub id: BrokerId,
    /// What an auto-created topic gets.
    pub defaults: TopicSettings,
    pub view: ClusterView,
    partitions: HashMap<(String, i32), Partition>,
    next_producer_id: i64,
}

impl Broker {
    /// A broker alone in its cluster, reachable at `addr`.
    pub fn single(addr: BrokerAddr, defaults: TopicSettings) -> Self {
        let id = addr.id;
        Broker {
            id,
            defaults,
            view: ClusterView {
                cluster_id: format!("insync-{}", Uuid::new_v4().simple()),
                controller: Some(id),
                brokers: vec![addr],
                topics: Default::default(),
            },
            partitions: HashMap::new(),
            // Producer ids must not repeat across restarts of this broker:
            // start from the clock, in a block of ids of this broker's own.
            next_producer_id: (i64::from(id) << 48)
                | (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
                    & ((1 << 48) - 1)),
        }
    }

    pub fn partition_mut(&mut self, topic: &str, index: i32) -> Option<&mut Partition> {
        self.partitions.get_mut(&(topic.to_string(), index))
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<&Partition> {
        self.partitions.get(&(topic.to_string(), index))
    }

    pub fn has_topic(&self, name: &str) -> bool {
        self.view.topics.contains_key(name)
    }

    /// Creates a topic whose every partition this broker leads. With more
    /// than one broker the controller places replicas; here they all sit on
    /// this broker, so the replication factor must be 1.
    pub fn create_topic(&mut self, name: &str, settings: &TopicSettings) -> Result<(), TopicError> {
        check_topic_name(name)?;
        if self.has_topic(name) {
            return Err(topic_error(
                TOPIC_ALREADY_EXISTS,
                format!("topic '{name}' already exists"),
            ));
        }
        if settings.partitions < 1 {
            return Err(topic_error(
                INVALID_PARTITIONS,
                format!(
                    "{} partitions: a topic needs at least one",
                    settings.partitions
                ),
            ));
        }
        let brokers = self.view.brokers.len();
        if settings.replication_factor < 1 || settings.replication_factor > brokers {
            return Err(topic_error(
                INVALID_REPLICATION_FACTOR,
                format!(
                    "replication factor {} with {brokers} broker(s)",
                    settings.replication_factor
                ),
            ));
        }
        if settings.protocol.min_insync_replicas > settings.replication_factor {
            return Err(topic_error(
                INVALID_CONFIG,
                format!(
                    "min.insync.replicas {} exceeds the replication factor {}",
                    settings.protocol.min_insync_replicas, settings.replication_factor
                ),
            ));
        }
        let replicas = BrokerSet::of([self.id]);
        let state = PartitionState {
            leader: Some(self.id),
            leader_epoch: 0,
            isr: replicas,
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        let mut views = Vec::new();
        for index in 0..settings.partitions {
            let p = Partition::new(self.id, replicas, state, settings.protocol.clone());
            self.partitions.insert((name.to_string(), index), p);
            views.push(PartitionView { replicas, state });
        }
        self.view.topics.insert(
            name.to_string(),
            TopicView {
                id: Uuid::new_v4(),
                partitions: views,
            },
        );
        Ok(())
    }

    /// InitProducerId for an idempotent producer: a fresh id, epoch 0.
    pub fn init_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }
}

/// Kafka's `Topic.validate`: 1 to 249 characters of `[a-zA-Z0-9._-]`, and
/// not `.` or `..`.
pub fn check_topic_name(name: &str) -> Result<(), TopicError> {
    let bad = |why: &str| {
        Err(topic_error(
            INVALID_TOPIC_EXCEPTION,
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

    fn broker() -> Broker {
        Broker::single(
            BrokerAddr {
                id: 0,
                host: "127.0.0.1".into(),
                port: 9092,
            },
            TopicSettings {
                partitions: 2,
                replication_factor: 1,
                protocol: ProtocolConfig::default(),
            },
        )
    }

    #[test]
    fn topics_are_created_once_with_every_partition_led_here() {
        let mut b = broker();
        let s = b.defaults.clone();
        b.create_topic("orders", &s).unwrap();
        assert_eq!(b.view.topics["orders"].partitions.len(), 2);
        assert!(b.partition("orders", 1).unwrap().replica.is_leader());
        assert!(b.partition("orders", 2).is_none());
        assert_eq!(
            b.create_topic("orders", &s).unwrap_err().code,
            TOPIC_ALREADY_EXISTS
        );
    }

    #[test]
    fn impossible_topics_are_refused_with_kafkas_codes() {
        let mut b = broker();
        let mut s = b.defaults.clone();
        assert_eq!(
            b.create_topic("a/b", &s).unwrap_err().code,
            INVALID_TOPIC_EXCEPTION
        );
        assert_eq!(
            b.create_topic("..", &s).unwrap_err().code,
            INVALID_TOPIC_EXCEPTION
        );
        s.replication_factor = 3;
        assert_eq!(
            b.create_topic("t", &s).unwrap_err().code,
            INVALID_REPLICATION_FACTOR
        );
        s.replication_factor = 1;
        s.protocol.min_insync_replicas = 2;
        assert_eq!(b.create_topic("t", &s).unwrap_err().code, INVALID_CONFIG);
        s.protocol.min_insync_replicas = 1;
        s.partitions = 0;
        assert_eq!(
            b.create_topic("t", &s).unwrap_err().code,
            INVALID_PARTITIONS
        );
        assert!(b.view.topics.is_empty(), "nothing half-created");
    }

    #[test]
    fn producer_ids_are_distinct() {
        let mut b = broker();
        assert_ne!(b.init_producer_id(), b.init_producer_id());
    }
}
