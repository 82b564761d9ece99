//! What the controller's metadata log holds: one record per decision,
//! named after the KRaft record that carries the same fact, and the image
//! a snapshot keeps of all of them.

use crate::core::messages::PartitionState;
use crate::core::types::BrokerId;
use crate::server::metadata::BrokerAddr;
use crate::server::topic_settings::TopicSettings;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// The cluster's id, the first record a new log gets (KRaft keeps it in
    /// `meta.properties`).
    Cluster { id: String },
    /// `RegisterBrokerRecord`: a broker process starts a new life. Its
    /// broker epoch is this record's offset, as in KRaft.
    RegisterBroker {
        broker: BrokerAddr,
        /// KRaft's `incarnationId`: a reconnecting process keeps it, a
        /// restarted one has a new one.
        incarnation: Uuid,
    },
    /// `BrokerRegistrationChangeRecord` with `fenced`: its session expired,
    /// or a new life replaced it.
    FenceBroker { broker: BrokerId },
    /// `TopicRecord` with the topic's `ConfigRecord`s.
    Topic {
        name: String,
        id: Uuid,
        settings: TopicSettings,
    },
    /// `PartitionRecord`: a new partition, its replicas in preference order.
    Partition {
        topic: String,
        partition: i32,
        assignment: Vec<BrokerId>,
        state: PartitionState,
    },
    /// `PartitionChangeRecord`: the leader, leader epoch, ISR, ELR,
    /// partition epoch or last known leader (`LastKnownElr`) changed.
    PartitionChange {
        topic: String,
        partition: i32,
        state: PartitionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_known_leader: Option<BrokerId>,
    },
}

/// Everything the records before a snapshot decided.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    pub cluster_id: String,
    pub brokers: Vec<BrokerImage>,
    pub topics: Vec<TopicImage>,
    pub partitions: Vec<PartitionImage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    pub addr: BrokerAddr,
    pub broker_epoch: u64,
    pub incarnation: Uuid,
    pub fenced: bool,
    /// Which life of the broker id the registration is (see
    /// `ControllerNode`'s `Member::life`); counted from the records, kept
    /// here because a snapshot replaces them.
    #[serde(default)]
    pub life: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub settings: TopicSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    pub topic: String,
    pub partition: i32,
    pub assignment: Vec<BrokerId>,
    pub state: PartitionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_leader: Option<BrokerId>,
}
