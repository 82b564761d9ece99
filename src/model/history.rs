//! The sequential specification of a partition for stateright's
//! `LinearizabilityTester`: `append(v) -> offset` and `read(offset) -> v`.

use stateright::semantics::SequentialSpec;

#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct LogSpec {
    log: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LogOp {
    Append(u8),
    Read(u64),
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LogRet {
    Appended(u64),
    /// A definite failure: the append took no effect.
    NotAppended,
    Read(u8),
    Empty,
}

impl SequentialSpec for LogSpec {
    type Op = LogOp;
    type Ret = LogRet;

    fn invoke(&mut self, op: &LogOp) -> LogRet {
        match *op {
            LogOp::Append(v) => {
                self.log.push(v);
                LogRet::Appended(self.log.len() as u64 - 1)
            }
            LogOp::Read(o) => match self.log.get(o as usize) {
                Some(&v) => LogRet::Read(v),
                None => LogRet::Empty,
            },
        }
    }

    fn is_valid_step(&mut self, op: &LogOp, ret: &LogRet) -> bool {
        match (*op, *ret) {
            (LogOp::Append(_), LogRet::NotAppended) => true,
            (op, ret) => self.invoke(&op) == ret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

    #[test]
    fn an_offset_reused_after_a_lost_ack_is_not_linearizable() {
        let mut t = LinearizabilityTester::new(LogSpec::default());
        t.on_invret(0u8, LogOp::Append(0), LogRet::Appended(0))
            .unwrap();
        t.on_invret(1u8, LogOp::Append(1), LogRet::Appended(0))
            .unwrap();
        assert!(t.serialized_history().is_none());
    }

    #[test]
    fn an_unanswered_append_may_or_may_not_have_happened() {
        let mut t = LinearizabilityTester::new(LogSpec::default());
        t.on_invoke(0u8, LogOp::Append(0)).unwrap();
        t.on_invret(1u8, LogOp::Append(0), LogRet::Appended(0))
            .unwrap();
        t.on_invret(2u8, LogOp::Read(0), LogRet::Read(0)).unwrap();
        assert!(t.serialized_history().is_some());
        t.on_invret(3u8, LogOp::Append(1), LogRet::NotAppended)
            .unwrap();
        t.on_invret(4u8, LogOp::Read(1), LogRet::Read(1)).unwrap();
        assert!(t.serialized_history().is_none());
    }
}

use super::actor::{Layout, PRODUCER};
use super::config::ModelConfig;
use crate::core::error::ErrorCode;
use crate::core::messages::{Msg, Node};
use stateright::actor::Envelope;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// A thread of the tester: one request of one client. Each request gets
/// its own thread, so retries and reads never overlap within a thread.
pub type Thread = (u8, u8);

type Tester = LinearizabilityTester<Thread, LogSpec>;

/// The produce/consume history, kept in every model state. Shared, since
/// most steps are not client operations and every step clones the state;
/// its verdict and digest are computed once per history, not per state.
#[derive(Clone, Debug)]
pub struct History {
    inner: Arc<Recorded>,
}

#[derive(Debug)]
struct Recorded {
    tester: Tester,
    linearizable: OnceLock<bool>,
    digest: OnceLock<u64>,
}

impl History {
    fn of(tester: Tester) -> History {
        History {
            inner: Arc::new(Recorded {
                tester,
                linearizable: OnceLock::new(),
                digest: OnceLock::new(),
            }),
        }
    }

    /// Whether some order of the operations explains every answer.
    pub fn is_linearizable(&self) -> bool {
        *self
            .inner
            .linearizable
            .get_or_init(|| self.inner.tester.serialized_history().is_some())
    }
}

impl Default for History {
    fn default() -> Self {
        History::of(LinearizabilityTester::new(LogSpec::default()))
    }
}

impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.tester == other.inner.tester
    }
}

impl Eq for History {}

impl Hash for History {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A fixed-seed digest, so equal histories hash alike in any process.
        let digest = self.inner.digest.get_or_init(|| {
            ahash::RandomState::with_seeds(5, 6, 7, 8).hash_one(&self.inner.tester)
        });
        state.write_u64(*digest);
    }
}

fn client(cfg: &ModelConfig, id: stateright::actor::Id) -> Option<u8> {
    match (Layout {
        rf: cfg.kafka.replication_factor,
    })
    .node(id)
    {
        Node::Client(c) => Some(c),
        _ => None,
    }
}

impl History {
    /// A client sends a request: the operation is invoked.
    pub fn record_out(
        cfg: &ModelConfig,
        h: &History,
        env: Envelope<&Msg<super::record::Rec>>,
    ) -> Option<History> {
        let c = client(cfg, env.src)?;
        let (thread, op) = match env.msg {
            Msg::Produce(req) if c == PRODUCER => {
                ((c, req.request), LogOp::Append(req.record.value))
            }
            Msg::ConsumerFetch {
                request, offset, ..
            } => ((c, *request), LogOp::Read(*offset)),
            _ => return None,
        };
        let mut t = h.inner.tester.clone();
        let _ = t.on_invoke(thread, op);
        Some(History::of(t))
    }

    /// A client receives an answer: the operation returns. Answers that
    /// leave the outcome unknown (a timeout, NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    /// leave it in flight, where it may or may not have taken effect.
    pub fn record_in(
        cfg: &ModelConfig,
        h: &History,
        env: Envelope<&Msg<super::record::Rec>>,
    ) -> Option<History> {
        let c = client(cfg, env.dst)?;
        let (thread, ret) = match env.msg {
            Msg::ProduceResponse { request, result } => {
                let ret = match result {
                    Ok(offset) => LogRet::Appended(*offset),
                    Err(ErrorCode::NotEnoughReplicas)
                    | Err(ErrorCode::NotLeaderOrFollower)
                    | Err(ErrorCode::OutOfOrderSequenceNumber)
                    | Err(ErrorCode::InvalidProducerEpoch) => LogRet::NotAppended,
                    Err(_) => return None,
                };
                ((c, *request), ret)
            }
            Msg::ConsumerFetchResponse {
                request,
                result: Ok(Some(record)),
                ..
            } => ((c, *request), LogRet::Read(record.value)),
            _ => return None,
        };
        let mut t = h.inner.tester.clone();
        let _ = t.on_return(thread, ret);
        Some(History::of(t))
    }
}
