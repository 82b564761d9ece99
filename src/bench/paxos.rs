//! The baseline for `insync bench`: single-decree Paxos written as a
//! stateright actor model and checked by stateright's own depth-first
//! checker, so per-state speed has a yardstick measured in the same run.
//! Three servers each propose and accept; clients write a register, then
//! read it, and the history must be linearizable.

use stateright::Expectation;
use stateright::actor::register::{RegisterActor, RegisterMsg, RegisterMsg::*};
use stateright::actor::{Actor, ActorModel, Id, Network, Out, majority, model_peers};
use stateright::semantics::LinearizabilityTester;
use stateright::semantics::register::Register;
use std::borrow::Cow;
use std::collections::BTreeMap;

type Ballot = (u32, Id);
/// (request id, client, value)
type Proposal = (u64, Id, char);

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaxosMsg {
    Prepare(Ballot),
    Promise(Ballot, Option<(Ballot, Proposal)>),
    Accept(Ballot, Proposal),
    Accepted(Ballot),
    Decided(Ballot, Proposal),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PaxosState {
    ballot: Ballot,
    proposal: Option<Proposal>,
    promises: BTreeMap<Id, Option<(Ballot, Proposal)>>,
    accepted: Option<(Ballot, Proposal)>,
    acceptances: Vec<Id>,
    decided: bool,
}

#[derive(Clone)]
pub struct PaxosServer {
    peers: Vec<Id>,
}

type Msg = RegisterMsg<u64, char, PaxosMsg>;

impl PaxosServer {
    fn quorum(&self) -> usize {
        majority(self.peers.len() + 1)
    }
}

impl Actor for PaxosServer {
    type Msg = Msg;
    type State = PaxosState;
    type Timer = ();
    type Random = ();
    type Storage = ();

    fn on_start(&self, _id: Id, _storage: &Option<()>, _o: &mut Out<Self>) -> PaxosState {
        PaxosState {
            ballot: (0, Id::from(0)),
            proposal: None,
            promises: BTreeMap::new(),
            accepted: None,
            acceptances: Vec::new(),
            decided: false,
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<PaxosState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match msg {
            Put(req, value) if !state.decided && state.proposal.is_none() => {
                let s = state.to_mut();
                s.ballot = (s.ballot.0 + 1, id);
                s.proposal = Some((req, src, value));
                s.promises = BTreeMap::from([(id, s.accepted)]);
                s.acceptances.clear();
                o.broadcast(&self.peers, &Internal(PaxosMsg::Prepare(s.ballot)));
            }
            Get(req) => {
                if let (true, Some((_, (_, _, value)))) = (state.decided, state.accepted) {
                    o.send(src, GetOk(req, value));
                }
            }
            Internal(PaxosMsg::Prepare(ballot)) if ballot > state.ballot => {
                let s = state.to_mut();
                s.ballot = ballot;
                o.send(src, Internal(PaxosMsg::Promise(ballot, s.accepted)));
            }
            Internal(PaxosMsg::Promise(ballot, last))
                if ballot == state.ballot && !state.decided =>
            {
                let s = state.to_mut();
                s.promises.insert(src, last);
                if s.promises.len() == self.quorum() {
                    // The highest ballot's value wins; only a free round may propose its own.
                    let chosen = s
                        .promises
                        .values()
                        .flatten()
                        .max_by_key(|(b, _)| *b)
                        .map(|(_, p)| *p)
                        .or(s.proposal)
                        .expect("a proposer has a proposal");
                    s.proposal = Some(chosen);
                    s.accepted = Some((ballot, chosen));
                    s.acceptances = vec![id];
                    o.broadcast(&self.peers, &Internal(PaxosMsg::Accept(ballot, chosen)));
                }
            }
            Internal(PaxosMsg::Accept(ballot, proposal)) if ballot >= state.ballot => {
                let s = state.to_mut();
                s.ballot = ballot;
                s.accepted = Some((ballot, proposal));
                o.send(src, Internal(PaxosMsg::Accepted(ballot)));
            }
            Internal(PaxosMsg::Accepted(ballot)) if ballot == state.ballot && !state.decided => {
                let s = state.to_mut();
                if !s.acceptances.contains(&src) {
                    s.acceptances.push(src);
                }
                if s.acceptances.len() == self.quorum() {
                    s.decided = true;
                    let (_, proposal) = s.accepted.expect("the leader accepted its own value");
                    o.broadcast(&self.peers, &Internal(PaxosMsg::Decided(ballot, proposal)));
                    let (req, client, _) = proposal;
                    o.send(client, PutOk(req));
                }
            }
            Internal(PaxosMsg::Decided(ballot, proposal)) => {
                let s = state.to_mut();
                s.accepted = Some((ballot, proposal));
                s.decided = true;
            }
            _ => {}
        }
    }
}

pub type PaxosModel =
    ActorModel<RegisterActor<PaxosServer>, (), LinearizabilityTester<Id, Register<char>>>;

/// Three servers and `clients` clients that each write once and read once.
pub fn model(clients: usize) -> PaxosModel {
    const SERVERS: usize = 3;
    let mut m = ActorModel::new((), LinearizabilityTester::new(Register('?')));
    for i in 0..SERVERS {
        m = m.actor(RegisterActor::Server(PaxosServer {
            peers: model_peers(i, SERVERS),
        }));
    }
    for _ in 0..clients {
        m = m.actor(RegisterActor::Client {
            put_count: 1,
            server_count: SERVERS,
        });
    }
    m.init_network(Network::new_unordered_nonduplicating([]))
        .property(Expectation::Always, "linearizable", |_, s| {
            s.history.serialized_history().is_some()
        })
        .property(Expectation::Sometimes, "value chosen", |_, s| {
            s.network
                .iter_deliverable()
                .any(|e| matches!(e.msg, GetOk(..)))
        })
        .record_msg_in(RegisterMsg::record_returns)
        .record_msg_out(RegisterMsg::record_invocations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::{Checker, Model};

    #[test]
    fn paxos_is_linearizable_and_chooses_a_value() {
        let checker = model(2).checker().spawn_dfs().join();
        checker.assert_properties();
        assert!(
            checker.unique_state_count() > 1_000,
            "the baseline is not trivial"
        );
    }
}
