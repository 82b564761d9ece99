//! What brokers and the controller say to each other, as length-prefixed
//! JSON frames over TCP. Kafka's KRaft RPCs carry the same facts
//! (BrokerRegistration, BrokerHeartbeat, AlterPartition, the metadata log);
//! this plane is internal to insync, so it uses its own small encoding.
//! Replication itself is Kafka's follower Fetch, on the brokers' listeners.

use crate::core::config::ProtocolConfig;
use crate::core::error::ErrorCode;
use crate::core::messages::PartitionState;
use crate::core::types::{BrokerId, BrokerSet, Epoch, PartitionEpoch};
use crate::server::metadata::{BrokerAddr, ClusterView};
use crate::server::topic_settings::{TopicError, TopicSettings};
use crate::wire::frame::{Frames, framed};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Control frames are small; a larger one is a bug or an attack.
pub const MAX_CONTROL_FRAME: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToController {
    /// The first message on a broker's connection: who it is and where
    /// clients reach it.
    Register {
        broker: BrokerAddr,
        /// This broker process's life (KRaft's `incarnationId`): the same
        /// on every reconnection, new after a restart.
        incarnation: uuid::Uuid,
        /// The broker epoch the clean-shutdown marker kept, if the last
        /// life left one (BrokerRegistration v3's `PreviousBrokerEpoch`,
        /// KIP-966; `None` stands for Kafka's -1). The controller calls the
        /// restart clean only when it equals the epoch it last registered.
        previous_broker_epoch: Option<u64>,
    },
    Heartbeat,
    AlterPartition {
        topic: String,
        partition: i32,
        leader_epoch: Epoch,
        partition_epoch: PartitionEpoch,
        new_isr: BrokerSet,
        /// The joiner and the broker epoch of its fetch (KIP-903).
        joining: Option<(BrokerId, u8)>,
    },
    CreateTopic {
        request: u64,
        name: String,
        settings: TopicSettings,
    },
    /// ElectLeaders, forwarded (KRaft brokers forward it to the
    /// controller); `None` names every partition.
    ElectLeaders {
        request: u64,
        election: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    },
    /// From an operator (the torture harness), the first and only message
    /// on its connection: move the partition's leadership, with no
    /// failure, to `to` or, if `None`, to any other live ISR member. It
    /// stands for a reassignment that only reorders the replicas followed
    /// by a preferred-leader election: the model's preferred election,
    /// which may pick any live ISR member.
    MoveLeader {
        topic: String,
        partition: i32,
        to: Option<BrokerId>,
    },
    /// SIGTERM: the broker wants to stop once it leads nothing and sits in
    /// no ISR (KRaft's BrokerHeartbeat with `WantShutDown`).
    ControlledShutdown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToBroker {
    /// The answer to `Register`, before anything else on the connection:
    /// the broker epoch of this life (BrokerRegistrationResponse's
    /// `BrokerEpoch`), and which life of its broker id this process is:
    /// the broker epoch the protocol core compares, which its follower
    /// fetches carry (KIP-903; see the controller's `Member::life`). Sent
    /// again whenever the controller registers the same process anew
    /// (fenced while cut off, it speaks again), with the same life.
    Registered { broker_epoch: u64, life: u8 },
    /// The answer to `Register` when the controller refuses it, after
    /// which it closes the connection; the broker asks again later, as
    /// Kafka's `BrokerLifecycleManager` does after any registration error.
    RegistrationRefused { error: ErrorCode, message: String },
    /// The cluster as Metadata should report it.
    Cluster(ClusterView),
    /// A partition's state, with what a broker needs to host it.
    LeaderAndIsr {
        topic: String,
        partition: i32,
        replicas: BrokerSet,
        protocol: ProtocolConfig,
        state: PartitionState,
    },
    /// The answer to an AlterPartition the controller refused (see the
    /// core's `Msg::AlterPartitionRejected`).
    AlterPartitionRejected {
        topic: String,
        partition: i32,
        new_isr: BrokerSet,
        partition_epoch: Epoch,
        ineligible: bool,
    },
    TopicCreated {
        request: u64,
        result: Result<(), TopicError>,
    },
    LeadersElected {
        request: u64,
        results: Vec<TopicElections>,
    },
    /// The answer to `MoveLeader`: the new leader, or why none.
    LeaderMoved { result: Result<BrokerId, ErrorCode> },
    /// The broker leads nothing and is fenced: it may flush and stop
    /// (KRaft's heartbeat answer with `ShouldShutDown`).
    ShutdownAllowed {
        /// Its registration's epoch, which its clean-shutdown marker keeps
        /// (KIP-966's `previousBrokerEpoch`).
        broker_epoch: u64,
    },
}

/// Which election an ElectLeaders request asks for (Kafka's `ElectionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

/// One topic's part of an ElectLeaders answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicElections {
    pub topic: String,
    pub results: Vec<ElectionResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElectionResult {
    pub partition: i32,
    pub error: Option<ErrorCode>,
    pub message: Option<String>,
}

pub async fn send<T: Serialize>(w: &mut (impl AsyncWrite + Unpin), msg: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    w.write_all(&framed(&body)).await
}

/// Reads control messages off one connection.
pub struct Reader<R> {
    inner: R,
    frames: Frames,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            frames: Frames::new(MAX_CONTROL_FRAME),
            buf: vec![0; 64 * 1024],
        }
    }

    /// The next message; `Ok(None)` when the peer closed cleanly.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, String> {
        loop {
            if let Some(body) = self.frames.next_frame().map_err(|e| e.to_string())? {
                return serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| format!("a malformed control message: {e}"));
            }
            let n = self
                .inner
                .read(&mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return match self.frames.pending() {
                    0 => Ok(None),
                    left => Err(format!("the peer hung up inside a frame ({left} bytes)")),
                };
            }
            self.frames.push(&self.buf[..n]);
        }
    }
}
