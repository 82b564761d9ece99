//! One partition on one broker: the protocol core's `Replica` of record
//! batches, plus the bookkeeping that ties the core's answers back to the
//! connections waiting for them.
//!
//! The core names a waiting producer by a client number and a request
//! number, one byte each, because the model keeps them in every state. The
//! server reads the pair as a 16-bit ticket: one per produce request in
//! flight on this partition.

use super::batch::Batch;
use crate::core::config::ProtocolConfig;
use crate::core::effects::Effects;
use crate::core::messages::{Msg, Node, PartitionState};
use crate::core::replica::Replica;
use crate::core::types::{Acks, BrokerId, BrokerSet, ErrorCode, Offset};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// The answer to one produce: the batch's base offset, or an error.
pub type ProduceResult = Result<Offset, ErrorCode>;

/// How a produce was answered.
#[derive(Debug)]
pub enum Produced {
    /// acks=0: nothing is sent back.
    Unanswered,
    Now(ProduceResult),
    /// acks=all: the answer comes once the HW passes the batch. A client
    /// that stops waiting drops the receiver; its ticket stays taken until
    /// the core answers, so that answer cannot reach a later request that
    /// reused the number.
    Later(oneshot::Receiver<ProduceResult>),
}

#[derive(Debug)]
pub struct Partition {
    pub replica: Replica<Batch>,
    pub cfg: ProtocolConfig,
    tickets: Tickets,
    /// Messages for other brokers and the controller, for the runtime to send.
    pub outbox: Vec<(Node, Msg<Batch>)>,
}

impl Partition {
    /// A partition whose initial state the controller decided.
    pub fn new(
        broker: BrokerId,
        replicas: BrokerSet,
        state: PartitionState,
        cfg: ProtocolConfig,
    ) -> Self {
        let mut fx = Effects::new();
        let mut replica = Replica::new(broker, replicas, state);
        replica.start(&mut fx);
        let mut p = Partition {
            replica,
            cfg,
            tickets: Tickets::default(),
            outbox: Vec::new(),
        };
        p.route(fx);
        p
    }

    /// Appends one batch as the leader, through the core's `on_produce`.
    pub fn produce(&mut self, batch: Batch, acks: Acks) -> Produced {
        let Some(ticket) = self.tickets.take() else {
            // 65,536 produces in flight on one partition: shed load the way a
            // full purgatory would, with a retriable error.
            return Produced::Now(Err(ErrorCode::RequestTimedOut));
        };
        let (tx, rx) = oneshot::channel();
        self.tickets.waiting.insert(ticket, Some(tx));
        let (client, request) = ticket_parts(ticket);
        let epoch = self.replica.partition.leader_epoch;
        let mut fx = Effects::new();
        self.replica
            .on_produce(client, request, acks, batch, epoch, &self.cfg, &mut fx);
        self.route(fx);
        if acks == Acks::Zero {
            self.tickets.release(ticket);
            return Produced::Unanswered;
        }
        let mut rx = rx;
        match rx.try_recv() {
            Ok(result) => Produced::Now(result),
            Err(oneshot::error::TryRecvError::Empty) => Produced::Later(rx),
            Err(oneshot::error::TryRecvError::Closed) => {
                unreachable!("a waiting ticket's sender is held until it is answered")
            }
        }
    }

    /// Delivers the core's answers to waiting producers and keeps the rest
    /// for the runtime.
    fn route(&mut self, fx: Effects<Batch>) {
        for (to, msg) in fx.sends {
            match (to, msg) {
                (Node::Client(c), Msg::ProduceResponse { request, result }) => {
                    let ticket = u16::from(c) << 8 | u16::from(request);
                    if let Some(Some(tx)) = self.tickets.waiting.remove(&ticket) {
                        // The receiver may be gone (a timed-out client): the
                        // answer has nowhere to go, and the ticket is free.
                        let _ = tx.send(result);
                    }
                    self.tickets.free.push(ticket);
                }
                other => self.outbox.push(other),
            }
        }
    }
}

fn ticket_parts(ticket: u16) -> (Node, u8) {
    (Node::Client((ticket >> 8) as u8), (ticket & 0xff) as u8)
}

#[derive(Debug, Default)]
struct Tickets {
    /// Tickets never handed out start here.
    next: u32,
    free: Vec<u16>,
    /// Taken tickets; `None` once the sender was handed back.
    waiting: HashMap<u16, Option<oneshot::Sender<ProduceResult>>>,
}

impl Tickets {
    fn take(&mut self) -> Option<u16> {
        if let Some(t) = self.free.pop() {
            return Some(t);
        }
        let t = u16::try_from(self.next).ok()?;
        self.next += 1;
        Some(t)
    }

    /// Frees a ticket the core will never answer (acks=0).
    fn release(&mut self, ticket: u16) {
        if self.waiting.remove(&ticket).is_some() {
            self.free.push(ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::batch::tests::client_batch;

    fn single(cfg: ProtocolConfig) -> Partition {
        let state = PartitionState {
            leader: Some(0),
            leader_epoch: 0,
            isr: BrokerSet::of([0]),
            elr: BrokerSet::EMPTY,
            partition_epoch: 0,
        };
        Partition::new(0, BrokerSet::of([0]), state, cfg)
    }

    fn batch(n: i64) -> Batch {
        Batch::parse_one(&client_batch(n, -1, -1), 0).unwrap()
    }

    #[test]
    fn a_lone_leader_places_batches_back_to_back() {
        let mut p = single(ProtocolConfig::default());
        assert!(matches!(
            p.produce(batch(3), Acks::One),
            Produced::Now(Ok(0))
        ));
        assert!(matches!(
            p.produce(batch(2), Acks::All),
            Produced::Now(Ok(3))
        ));
        assert!(matches!(
            p.produce(batch(1), Acks::Zero),
            Produced::Unanswered
        ));
        let read = p.replica.consumer_read(4).unwrap();
        assert_eq!(read.len(), 2, "the batch holding offset 4, then the next");
        assert_eq!(
            read[0].record.base_offset(),
            3,
            "the stored batch carries its offset"
        );
        assert_eq!(p.replica.consumer_read(6).unwrap().len(), 0);
        assert_eq!(p.replica.consumer_read(7), Err(ErrorCode::OffsetOutOfRange));
        assert!(p.tickets.waiting.is_empty(), "every ticket came back");
    }

    #[test]
    fn acks_all_below_min_isr_is_refused_before_the_append() {
        let cfg = ProtocolConfig {
            min_insync_replicas: 2,
            ..ProtocolConfig::default()
        };
        let mut p = single(cfg);
        assert!(matches!(
            p.produce(batch(1), Acks::All),
            Produced::Now(Err(ErrorCode::NotEnoughReplicas))
        ));
        assert_eq!(p.replica.log.end_offset(), 0);
        assert!(matches!(
            p.produce(batch(1), Acks::One),
            Produced::Now(Ok(0))
        ));
    }

    #[test]
    fn tickets_are_reused_only_once_answered() {
        let mut t = Tickets::default();
        let a = t.take().unwrap();
        t.waiting.insert(a, None);
        let b = t.take().unwrap();
        assert_ne!(a, b);
        t.release(a);
        assert_eq!(t.take(), Some(a));
        t.next = u32::from(u16::MAX) + 1;
        assert_eq!(t.take(), None, "all 65,536 tickets taken");
    }
}
