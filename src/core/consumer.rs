//! A consumer reading the partition from the start, one offset at a time,
//! from the leader it knows. Leaders only serve what is below their HW.

use super::effects::{Effects, Event};
use super::error::ErrorCode;
use super::messages::{Msg, Node};
use super::types::{BrokerId, Epoch, Offset, Record, RenameBrokers};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Consumer<R> {
    pub next_offset: Offset,
    pub reads: Vec<(Offset, R)>,
    pub max_reads: usize,
    pub in_flight: Option<(u8, BrokerId, Epoch)>,
    pub leader: Option<BrokerId>,
    pub leader_epoch: Epoch,
    pub awaiting_leader_after: Option<Epoch>,
    pub next_request: u8,
}

impl<R: Record> Consumer<R> {
    pub fn new(max_reads: usize, leader: Option<BrokerId>, leader_epoch: Epoch) -> Self {
        Consumer {
            next_offset: 0,
            reads: Vec::new(),
            max_reads,
            in_flight: None,
            leader,
            leader_epoch,
            awaiting_leader_after: None,
            next_request: 0,
        }
    }

    pub fn start(&mut self, fx: &mut Effects<R>) {
        self.poll(fx);
    }

    fn poll(&mut self, fx: &mut Effects<R>) {
        if self.in_flight.is_some() || self.reads.len() >= self.max_reads {
            return;
        }
        if let Some(after) = self.awaiting_leader_after {
            if self.leader_epoch <= after {
                return;
            }
            self.awaiting_leader_after = None;
        }
        let Some(leader) = self.leader else { return };
        let request = self.next_request;
        self.next_request += 1;
        self.in_flight = Some((request, leader, self.leader_epoch));
        fx.send(
            Node::Broker(leader),
            Msg::ConsumerFetch {
                request,
                offset: self.next_offset,
                leader_epoch: self.leader_epoch,
            },
        );
    }

    /// One message: a fetch answer, a reset connection, or Metadata.
    pub fn step(&mut self, from: Node, msg: Msg<R>, fx: &mut Effects<R>) {
        match (from, msg) {
            (
                Node::Broker(b),
                Msg::ConsumerFetchResponse {
                    request,
                    offset,
                    result,
                },
            ) => self.on_fetch_response(b, request, offset, result, fx),
            (Node::Broker(b), Msg::ConnectionReset) => self.on_connection_reset(b, fx),
            (
                _,
                Msg::Metadata {
                    leader,
                    leader_epoch,
                },
            ) => self.on_metadata(leader, leader_epoch, fx),
            _ => {}
        }
    }

    fn on_metadata(&mut self, leader: Option<BrokerId>, leader_epoch: Epoch, fx: &mut Effects<R>) {
        if leader_epoch >= self.leader_epoch {
            self.leader = leader;
            self.leader_epoch = leader_epoch;
        }
        self.poll(fx);
    }

    fn on_fetch_response(
        &mut self,
        from: BrokerId,
        request: u8,
        offset: Offset,
        result: Result<Option<R>, ErrorCode>,
        fx: &mut Effects<R>,
    ) {
        let Some((req, to, epoch)) = self.in_flight else {
            return;
        };
        if req != request || to != from || offset != self.next_offset {
            return;
        }
        self.in_flight = None;
        match result {
            Ok(Some(record)) => {
                fx.event(|| Event::ConsumerRead {
                    offset,
                    record: record.clone(),
                });
                self.next_offset += record.offset_count();
                self.reads.push((offset, record));
            }
            Ok(None) => {}
            Err(_) => self.awaiting_leader_after = Some(epoch),
        }
        self.poll(fx);
    }

    fn on_connection_reset(&mut self, from: BrokerId, fx: &mut Effects<R>) {
        if let Some((_, to, epoch)) = self.in_flight
            && to == from
        {
            self.in_flight = None;
            self.awaiting_leader_after = Some(epoch);
            self.poll(fx);
        }
    }
}

impl<R> RenameBrokers for Consumer<R> {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let Consumer {
            next_offset: _,
            reads: _,
            max_reads: _,
            in_flight,
            leader,
            leader_epoch: _,
            awaiting_leader_after: _,
            next_request: _,
        } = self;
        if let Some((_, b, _)) = in_flight {
            *b = to(*b);
        }
        leader.rename_brokers(to);
    }
}
