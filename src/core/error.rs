//! Kafka's error codes, with Kafka's numbers and names: the one list the
//! core, the broker, the controller and insync's own clients share
//! (`org.apache.kafka.common.protocol.Errors`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declared in Kafka's numeric order, so ordering by variant (the model
/// sorts messages) is ordering by code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorCode {
    OffsetOutOfRange = 1,
    /// A batch whose CRC or layout is wrong.
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    InvalidTopicException = 17,
    NotEnoughReplicas = 19,
    NotEnoughReplicasAfterAppend = 20,
    InvalidRequiredAcks = 21,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    UnsupportedVersion = 35,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    InvalidConfig = 40,
    InvalidRequest = 42,
    /// Magic 0 and 1 batches.
    UnsupportedForMessageFormat = 43,
    OutOfOrderSequenceNumber = 45,
    /// A producer epoch older than the partition's (`checkProducerEpoch`).
    InvalidProducerEpoch = 47,
    /// The log could not be read or written.
    KafkaStorageError = 56,
    /// KIP-394: join again with the member id this answer carries.
    MemberIdRequired = 79,
    /// ElectLeaders: the preferred replica is not a live ISR member.
    PreferredLeaderNotAvailable = 80,
    /// ElectLeaders (UNCLEAN): no replica may be elected.
    EligibleLeadersNotAvailable = 83,
    /// ElectLeaders: the partition already has the leader asked for.
    ElectionNotNeeded = 84,
    /// More than one batch for a partition in one Produce.
    InvalidRecord = 87,
    /// Fetch v13+: a topic named by an id this broker does not know.
    UnknownTopicId = 100,
    /// BrokerRegistration from a new process while the broker id's previous
    /// registration still has a live heartbeat session.
    DuplicateBrokerRegistration = 101,
}

const ALL: [ErrorCode; 36] = [
    ErrorCode::OffsetOutOfRange,
    ErrorCode::CorruptMessage,
    ErrorCode::UnknownTopicOrPartition,
    ErrorCode::LeaderNotAvailable,
    ErrorCode::NotLeaderOrFollower,
    ErrorCode::RequestTimedOut,
    ErrorCode::CoordinatorLoadInProgress,
    ErrorCode::CoordinatorNotAvailable,
    ErrorCode::NotCoordinator,
    ErrorCode::InvalidTopicException,
    ErrorCode::NotEnoughReplicas,
    ErrorCode::NotEnoughReplicasAfterAppend,
    ErrorCode::InvalidRequiredAcks,
    ErrorCode::IllegalGeneration,
    ErrorCode::InconsistentGroupProtocol,
    ErrorCode::InvalidGroupId,
    ErrorCode::UnknownMemberId,
    ErrorCode::InvalidSessionTimeout,
    ErrorCode::RebalanceInProgress,
    ErrorCode::UnsupportedVersion,
    ErrorCode::TopicAlreadyExists,
    ErrorCode::InvalidPartitions,
    ErrorCode::InvalidReplicationFactor,
    ErrorCode::InvalidConfig,
    ErrorCode::InvalidRequest,
    ErrorCode::UnsupportedForMessageFormat,
    ErrorCode::OutOfOrderSequenceNumber,
    ErrorCode::InvalidProducerEpoch,
    ErrorCode::KafkaStorageError,
    ErrorCode::MemberIdRequired,
    ErrorCode::PreferredLeaderNotAvailable,
    ErrorCode::EligibleLeadersNotAvailable,
    ErrorCode::ElectionNotNeeded,
    ErrorCode::InvalidRecord,
    ErrorCode::UnknownTopicId,
    ErrorCode::DuplicateBrokerRegistration,
];

impl ErrorCode {
    /// The code on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// The error a wire code names: `Ok(None)` for 0 (no error), `Err`
    /// with the code for one this list does not hold.
    pub fn from_code(code: i16) -> Result<Option<ErrorCode>, i16> {
        if code == 0 {
            return Ok(None);
        }
        ALL.into_iter()
            .find(|e| e.code() == code)
            .map(Some)
            .ok_or(code)
    }

    /// Kafka's name for it.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            CorruptMessage => "CORRUPT_MESSAGE",
            UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            RequestTimedOut => "REQUEST_TIMED_OUT",
            CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            NotCoordinator => "NOT_COORDINATOR",
            InvalidTopicException => "INVALID_TOPIC_EXCEPTION",
            NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            InvalidRequiredAcks => "INVALID_REQUIRED_ACKS",
            IllegalGeneration => "ILLEGAL_GENERATION",
            InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            InvalidGroupId => "INVALID_GROUP_ID",
            UnknownMemberId => "UNKNOWN_MEMBER_ID",
            InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            UnsupportedVersion => "UNSUPPORTED_VERSION",
            TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            InvalidPartitions => "INVALID_PARTITIONS",
            InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            InvalidConfig => "INVALID_CONFIG",
            InvalidRequest => "INVALID_REQUEST",
            UnsupportedForMessageFormat => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
            OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            KafkaStorageError => "KAFKA_STORAGE_ERROR",
            MemberIdRequired => "MEMBER_ID_REQUIRED",
            PreferredLeaderNotAvailable => "PREFERRED_LEADER_NOT_AVAILABLE",
            EligibleLeadersNotAvailable => "ELIGIBLE_LEADERS_NOT_AVAILABLE",
            ElectionNotNeeded => "ELECTION_NOT_NEEDED",
            InvalidRecord => "INVALID_RECORD",
            UnknownTopicId => "UNKNOWN_TOPIC_ID",
            DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
        }
    }

    /// Whether a client retries this error: Kafka's `RetriableException`s
    /// (`Errors.exception()` of each code).
    pub fn is_retriable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            CorruptMessage
                | UnknownTopicOrPartition
                | LeaderNotAvailable
                | NotLeaderOrFollower
                | RequestTimedOut
                | CoordinatorLoadInProgress
                | CoordinatorNotAvailable
                | NotCoordinator
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | KafkaStorageError
                // `InvalidMetadataException`s, as Kafka declares them.
                | PreferredLeaderNotAvailable
                | EligibleLeadersNotAvailable
                | ElectionNotNeeded
                | UnknownTopicId
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        for e in ALL {
            assert_eq!(ErrorCode::from_code(e.code()), Ok(Some(e)));
        }
        assert!(ALL.windows(2).all(|w| w[0] < w[1]), "in numeric order");
        assert_eq!(ErrorCode::from_code(0), Ok(None));
        assert_eq!(ErrorCode::from_code(999), Err(999));
        assert!(ErrorCode::NotEnoughReplicas.is_retriable());
        assert!(!ErrorCode::OutOfOrderSequenceNumber.is_retriable());
    }
}
