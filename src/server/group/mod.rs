//! Consumer groups, the classic protocol: the coordinator's state machine
//! (`coordinator`), committed offsets kept in `__consumer_offsets`
//! (`offsets`), the lock that holds both with the waiting requests
//! (`plane`), and the Kafka APIs on top (`serve`).

pub mod coordinator;
pub mod offsets;
pub mod plane;
pub mod serve;
