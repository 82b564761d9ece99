//! The producer: sends its records one at a time (`max.in.flight = 1`) to
//! the leader it knows, and retries the retriable failures up to `retries`.
//! An idempotent producer bumps its epoch after a record fails for good and
//! sends the rest from sequence 0 in the new epoch (KIP-360).

use super::effects::{Effects, Event};
use super::error::ErrorCode;
use super::messages::{Msg, Node, ProduceRequest};
use super::types::{Acks, BrokerId, Epoch, Offset, Record, RenameBrokers};

/// How one record ended, from the producer's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// acks=0: written into the socket, nothing more is known.
    Sent,
    /// Acknowledged at this offset.
    Acked(Offset),
    /// Failed for good with this error; `None` means the connection was lost.
    Failed(Option<ErrorCode>),
}

impl Outcome {
    /// Success as the application sees it.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Sent | Outcome::Acked(_))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attempt {
    pub request: u8,
    pub to: BrokerId,
    pub leader_epoch: Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// `retries`: resends allowed per record after its first attempt.
    pub retries: u8,
    /// `enable.idempotence`.
    pub idempotence: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Producer<R> {
    pub records: Vec<R>,
    /// Final outcomes, one per finished record, in order.
    pub outcomes: Vec<Outcome>,
    pub in_flight: Option<Attempt>,
    pub retries_left: u8,
    /// The next send must wait for a leader newer than this epoch.
    pub awaiting_leader_after: Option<Epoch>,
    pub leader: Option<BrokerId>,
    pub leader_epoch: Epoch,
    pub next_request: u8,
    /// The idempotent producer's epoch: bumped after each record that failed for good.
    pub producer_epoch: u16,
}

impl<R: Record> Producer<R> {
    pub fn new(
        records: Vec<R>,
        cfg: &ProducerConfig,
        leader: Option<BrokerId>,
        leader_epoch: Epoch,
    ) -> Self {
        Producer {
            records,
            outcomes: Vec::new(),
            in_flight: None,
            retries_left: cfg.retries,
            awaiting_leader_after: None,
            leader,
            leader_epoch,
            next_request: 0,
            producer_epoch: 0,
        }
    }

    /// Every record has its final outcome.
    pub fn is_done(&self) -> bool {
        self.outcomes.len() == self.records.len()
    }

    pub fn current(&self) -> Option<&R> {
        self.records.get(self.outcomes.len())
    }

    pub fn start(&mut self, cfg: &ProducerConfig, fx: &mut Effects<R>) {
        self.send_next(cfg, fx);
    }

    /// One message: Produce answers, a reset connection, or Metadata.
    pub fn step(&mut self, from: Node, msg: Msg<R>, cfg: &ProducerConfig, fx: &mut Effects<R>) {
        match (from, msg) {
            (Node::Broker(b), Msg::ProduceResponse { request, result }) => {
                self.on_produce_response(b, request, result, cfg, fx)
            }
            (Node::Broker(b), Msg::ConnectionReset) => self.on_connection_reset(b, cfg, fx),
            (
                _,
                Msg::Metadata {
                    leader,
                    leader_epoch,
                },
            ) => self.on_metadata(leader, leader_epoch, cfg, fx),
            _ => {}
        }
    }

    /// Whether `msg` means anything to a producer in this state: a finished
    /// producer ignores everything.
    pub fn wants(&self, msg: &Msg<R>) -> bool {
        !self.is_done()
            && matches!(
                msg,
                Msg::ProduceResponse { .. } | Msg::ConnectionReset | Msg::Metadata { .. }
            )
    }

    fn send_next(&mut self, cfg: &ProducerConfig, fx: &mut Effects<R>) {
        while self.in_flight.is_none() && !self.is_done() {
            if let Some(after) = self.awaiting_leader_after {
                if self.leader_epoch <= after {
                    return;
                }
                self.awaiting_leader_after = None;
            }
            let Some(leader) = self.leader else { return };
            let record = self.current().expect("not done").clone();
            let request = self.next_request;
            self.next_request += 1;
            let attempt = cfg.retries - self.retries_left;
            fx.event(|| Event::ProducerSent {
                record: record.clone(),
                to: leader,
                attempt,
            });
            fx.send(
                Node::Broker(leader),
                Msg::Produce(ProduceRequest {
                    request,
                    acks: cfg.acks,
                    record: record.clone(),
                    leader_epoch: self.leader_epoch,
                }),
            );
            if cfg.acks == Acks::Zero {
                fx.event(|| Event::ProducerAcked {
                    record,
                    offset: None,
                });
                self.finish(Outcome::Sent, cfg);
            } else {
                self.in_flight = Some(Attempt {
                    request,
                    to: leader,
                    leader_epoch: self.leader_epoch,
                });
            }
        }
    }

    fn finish(&mut self, outcome: Outcome, cfg: &ProducerConfig) {
        self.outcomes.push(outcome);
        self.in_flight = None;
        self.retries_left = cfg.retries;
        if cfg.idempotence && matches!(outcome, Outcome::Failed(_)) && !self.is_done() {
            self.bump_epoch();
        }
    }

    /// Whether the failed batch was written or not, the partition's
    /// sequence now has a gap or an unknown end: Kafka's idempotent producer
    /// bumps its epoch and starts the next batch at sequence 0
    /// (`TransactionManager.handleFailedBatch` → `requestEpochBumpForPartition`
    /// for OUT_OF_ORDER_SEQUENCE_NUMBER and failed batches; an expired batch
    /// leaves the sequence unresolved, bumped in `maybeResolveSequences`).
    fn bump_epoch(&mut self) {
        self.producer_epoch += 1;
        let first = self.outcomes.len();
        for (i, r) in self.records.iter_mut().enumerate().skip(first) {
            *r = r
                .clone()
                .resequenced(self.producer_epoch, (i - first) as u32);
        }
    }

    /// A Metadata update from the controller.
    fn on_metadata(
        &mut self,
        leader: Option<BrokerId>,
        leader_epoch: Epoch,
        cfg: &ProducerConfig,
        fx: &mut Effects<R>,
    ) {
        if leader_epoch >= self.leader_epoch {
            self.leader = leader;
            self.leader_epoch = leader_epoch;
        }
        self.send_next(cfg, fx);
    }

    fn on_produce_response(
        &mut self,
        from: BrokerId,
        request: u8,
        result: Result<Offset, ErrorCode>,
        cfg: &ProducerConfig,
        fx: &mut Effects<R>,
    ) {
        match self.in_flight {
            Some(a) if a.request == request && a.to == from => {}
            _ => return, // an answer to an attempt already given up on
        }
        match result {
            Ok(offset) => {
                let record = self.current().expect("in flight").clone();
                fx.event(|| Event::ProducerAcked {
                    record,
                    offset: Some(offset),
                });
                self.finish(Outcome::Acked(offset), cfg);
            }
            Err(e) => self.attempt_failed(Some(e), cfg, fx),
        }
        self.send_next(cfg, fx);
    }

    /// The connection to `from` broke (the broker died): every request on it is lost.
    fn on_connection_reset(&mut self, from: BrokerId, cfg: &ProducerConfig, fx: &mut Effects<R>) {
        if matches!(self.in_flight, Some(a) if a.to == from) {
            self.attempt_failed(None, cfg, fx);
            self.send_next(cfg, fx);
        }
    }

    fn attempt_failed(
        &mut self,
        error: Option<ErrorCode>,
        cfg: &ProducerConfig,
        fx: &mut Effects<R>,
    ) {
        let attempt = self.in_flight.take().expect("in flight");
        let record = self.current().expect("in flight").clone();
        let reason = match error {
            Some(e) => e.to_string(),
            None => "the connection to the leader reset".to_string(),
        };
        let retriable = error.is_none_or(ErrorCode::is_retriable);
        if retriable && self.retries_left > 0 {
            self.retries_left -= 1;
            // A lost leader or a stale one means waiting for a newer one;
            // waiting costs no retry.
            if matches!(error, None | Some(ErrorCode::NotLeaderOrFollower)) {
                self.awaiting_leader_after = Some(attempt.leader_epoch);
            }
            fx.event(|| Event::ProducerRetries {
                record,
                reason,
                retries_left: self.retries_left,
            });
        } else {
            fx.event(|| Event::ProducerGaveUp { record, reason });
            self.finish(Outcome::Failed(error), cfg);
        }
    }
}

impl<R> RenameBrokers for Producer<R> {
    fn rename_brokers(&mut self, to: &impl Fn(BrokerId) -> BrokerId) {
        let Producer {
            records: _,
            outcomes: _,
            in_flight,
            retries_left: _,
            awaiting_leader_after: _,
            leader,
            leader_epoch: _,
            next_request: _,
            producer_epoch: _,
        } = self;
        if let Some(Attempt {
            request: _,
            to: b,
            leader_epoch: _,
        }) = in_flight
        {
            *b = to(*b);
        }
        leader.rename_brokers(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::effects::Effect;
    use crate::core::types::ProducerSeq;

    /// A record: its index, and the epoch and sequence it is sent with.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct R(u8, u16, u32);
    impl Record for R {
        fn producer_seq(&self) -> Option<ProducerSeq> {
            Some(ProducerSeq {
                producer_id: 1,
                producer_epoch: self.1,
                sequence: self.2,
            })
        }
        fn resequenced(self, producer_epoch: u16, sequence: u32) -> Self {
            R(self.0, producer_epoch, sequence)
        }
    }

    fn sent(fx: Effects<R>) -> Vec<R> {
        fx.into_iter()
            .filter_map(|e| match e {
                Effect::Send(_, Msg::Produce(req)) => Some(req.record),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn after_a_record_fails_for_good_the_rest_go_in_a_new_epoch_from_sequence_zero() {
        let cfg = ProducerConfig {
            acks: Acks::All,
            retries: 0,
            idempotence: true,
        };
        let records = vec![R(0, 0, 0), R(1, 0, 1), R(2, 0, 2)];
        let mut p = Producer::new(records, &cfg, Some(1), 1);
        let mut fx = Effects::new();
        p.start(&cfg, &mut fx);
        assert_eq!(sent(fx), [R(0, 0, 0)]);
        let mut fx = Effects::new();
        let answer = Msg::ProduceResponse {
            request: 0,
            result: Err(ErrorCode::OutOfOrderSequenceNumber),
        };
        p.step(Node::Broker(1), answer, &cfg, &mut fx);
        assert_eq!(
            p.outcomes,
            [Outcome::Failed(Some(ErrorCode::OutOfOrderSequenceNumber))]
        );
        assert_eq!(sent(fx), [R(1, 1, 0)], "the epoch is bumped");
        let mut fx = Effects::new();
        let answer = Msg::ProduceResponse {
            request: 1,
            result: Ok(0),
        };
        p.step(Node::Broker(1), answer, &cfg, &mut fx);
        assert_eq!(sent(fx), [R(2, 1, 1)]);

        // Without idempotence nothing is resequenced.
        let plain = ProducerConfig {
            idempotence: false,
            ..cfg
        };
        let mut p = Producer::new(vec![R(0, 0, 0), R(1, 0, 1)], &plain, Some(1), 1);
        p.start(&plain, &mut Effects::new());
        let mut fx = Effects::new();
        let answer = Msg::ProduceResponse {
            request: 0,
            result: Err(ErrorCode::NotEnoughReplicas),
        };
        p.step(Node::Broker(1), answer, &plain, &mut fx);
        assert_eq!(sent(fx), [R(1, 0, 1)]);
    }
}
