//! News first: a persistent set (Godefroid 1996, ch. 4) of a follower's
//! delivery of the controller's news of a newer leader epoch, with that
//! follower's own crash, taken instead of every step where nothing else
//! the follower could do first matters.
//!
//! Each election sends its LeaderAndIsr to every live replica, and the
//! controller may run two or three elections before a replica reads the
//! first: with five replicas and two crashes, a class holds five such
//! messages in flight on average and up to fourteen, and the orders in
//! which replicas that can do nothing else learn their news multiply the
//! classes without telling anything apart.
//!
//! **When.** The head of the controller's channel to follower F is a
//! LeaderAndIsr F accepts (its life, a leader epoch newer than F's epoch
//! e) that does not make F the leader; F is neither leading nor down,
//! stopping or cut off, and has no controlled shutdown left (a rolling
//! restart, a network partition or a consumer in the scenario turns the
//! rule off, and so does acks=0 while a crash is left). The set T is that
//! delivery, t, with F's own crash if one is left, and two deliveries to
//! F that t would otherwise race (each only at the head of its channel):
//! the answer F awaits from its leader ([`answer_at_head`]) and, with no
//! crash left, a fetch F refuses from the leader t names. Nothing else F
//! could be sent changes what T's steps change:
//! - the controller's later messages queue behind t;
//! - what is on its way to F from others, F takes before t or after it,
//!   and before its crash or after it, to the same effect
//!   ([`arrivals_commute`]): fetches and produce requests F parks, answers
//!   to its fetch that end it and nothing else, and, with no crash left,
//!   any fetch or produce F refuses;
//! - F's leader L cannot answer F's fetch with anything but NOT_LEADER
//!   ([`fetch_may_be_answered`]) unless it has (the answer is in T): L is
//!   down (what is on its way to it is for its ended life), or L neither
//!   leads in e nor is told to (the controller is past e, since it sent t);
//! - no broker can send F a fetch F would refuse, nor a producer a
//!   produce F would refuse, where that matters ([`may_fetch_from`],
//!   [`producer_may_address`]): F refuses at once, and a crashed F drops
//!   what it would have refused, so a crash left rules out every such
//!   sender, and none left only the leader t names.
//!
//! **Why the set is persistent.** t reads and changes F and the head of
//! its channel alone, and F's crash F alone (and the crash bound, which
//! only counts). Other actors' steps touch neither (they append to
//! channels), so they commute with T and leave the conditions above as
//! they were (or, using up the last crash, weaker); F's own steps outside
//! T are the arrivals above. So along any path that avoids T, every step
//! commutes with t, and a path that takes another member of T after such
//! steps can take it before them. Up to messages their receivers ignore
//! for good: a fetch that replaces its follower's parked one (`on_fetch`)
//! leaves out the NOT_LEADER t would have sent for the older one, an
//! answer for an epoch its follower has left, which changes nothing
//! whenever it comes (`model::ignored`).
//!
//! **Why verdicts stay.** t, the step that stays enabled whatever else
//! happens, is invisible: a property reads neither F's log (t must leave
//! it unchanged, checked on the state: before KIP-101 a new follower
//! truncates to its HW) nor F's ghost of what it exposed (only a leader
//! exposes), nor the leader's log (F leads neither before nor after); it
//! sends nothing to a client and writes no history. So a state the
//! reduced graph skips agrees on every property with the same state after
//! t, which it holds. (F's crash, the other member of T, is visible; a
//! path that takes it is only reordered, never cut short.)
//!
//! **No step is postponed forever** (the cycle proviso): t and the
//! crash raise F's leader epoch or the crash count, which nothing lowers,
//! so no cycle takes them. A cycle of reduced steps alone would take only
//! the other two kinds of delivery and clients' steps (`client_first`):
//! none of these sends an answer with records or a message to a client,
//! and only an answer's delivery sends a fetch, so such a cycle would use
//! up what it never sends again. Every cycle of the reduced graph passes
//! a state where every step is taken.
//!
//! `tests/news_first.rs` checks these facts on every state of several
//! scenarios: that t changes no property, and that every other step keeps
//! F picked and commutes with t and with the other members of T. `tests/reductions.rs`
//! checks that verdicts and counterexample lengths stay on every small
//! scenario. `--no-news-first` (or `--no-por`) turns the rule off.

use super::actor::NodeState;
use super::client_first::Channels;
use super::config::ModelConfig;
use super::state::View;
use crate::core::messages::{FetchResult, Msg, Node};
use crate::core::types::{Acks, BrokerId, Epoch};

/// A follower whose news the search may deliver alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct News {
    /// The follower's slot.
    pub follower: usize,
    /// The slot of the leader the news names, where that leader's fetch,
    /// which the follower refuses, is at the head of its channel to it:
    /// that delivery joins the set ([`arrivals_commute`]).
    pub refused_fetch_from: Option<usize>,
    /// The slot of the follower's leader, where the answer the follower
    /// awaits (other than NOT_LEADER) is at the head of its channel to it:
    /// that delivery joins the set too ([`answer_at_head`]).
    pub answer_from: Option<usize>,
}

/// The followers whose news the search may deliver alone. Each makes a
/// persistent set, and so does their union, which the search takes: a
/// set the same for every member of a symmetry class, so that the search
/// meets the same classes in any order.
pub fn news_for(s: &impl Channels, cfg: &ModelConfig) -> Vec<News> {
    if cfg.network_partitions > 0 || cfg.consumer || cfg.rolling_restart {
        return Vec::new();
    }
    let v = View::of(s);
    let shutdowns_left = v.shutdowns() < u32::from(cfg.controlled_shutdowns);
    let crash_left = v.crashes() < u32::from(cfg.crashes);
    drop(v);
    if crash_left && cfg.kafka.acks == Acks::Zero {
        // A produce F parks and then drops at a crash resets the
        // producer's connection, one that meets the closed port says
        // nothing at acks=0, and any election may send one F's way.
        return Vec::new();
    }
    let controller = usize::from(cfg.layout().id(Node::Controller));
    (0..controller)
        .filter_map(|f| {
            let NodeState::Broker(b) = s.node(f) else {
                return None;
            };
            let r = &b.replica;
            let Some(Msg::LeaderAndIsr {
                state,
                broker_epoch,
            }) = s.channel(controller, f).next()
            else {
                return None;
            };
            let news = *broker_epoch == r.incarnation
                && state.leader_epoch > r.partition.leader_epoch
                && state.leader != Some(r.id);
            let idle = !b.down && !b.stopping && !b.isolated && r.leader.is_none();
            let no_shutdown = !(shutdowns_left && b.shutdowns < cfg.controlled_shutdowns);
            let epoch = r.partition.leader_epoch;
            let answer_from = answer_at_head(s, cfg, f);
            let alone = news
                && idle
                && no_shutdown
                && (0..s.actors()).all(|y| {
                    y == controller
                        || arrivals_commute(s, y, f, crash_left, state.leader, answer_from)
                })
                && (answer_from.is_some() || !fetch_may_be_answered(s, cfg, f))
                && !(crash_left && producer_may_address(s, controller, r.id, epoch))
                && !(0..controller).any(|g| {
                    (crash_left || is_broker(s, g, state.leader))
                        && may_fetch_from(s, controller, g, f, epoch)
                });
            let refused_fetch_from = (0..controller).find(|&g| {
                is_broker(s, g, state.leader)
                    && matches!(s.channel(g, f).next(),
                        Some(Msg::Fetch(q)) if !r.waits_for_epoch(q.leader_epoch))
            });
            alone.then_some(News {
                follower: f,
                refused_fetch_from,
                answer_from,
            })
        })
        .collect()
}

/// Whether F may take everything on its way from `y` before the news or
/// after it, and before its crash or (where it drops it) after it, with
/// the same effect:
/// - a follower's fetch for a newer epoch than F's: F parks it
///   (`on_fetch`) and re-handles it when it hears of that epoch, and a
///   crash drops a parked fetch as it drops one that arrives after it;
/// - an answer to F's fetch that F ignores for good, or NOT_LEADER: that
///   only ends F's fetch, which the news and a crash end as well;
/// - a produce F parks: a crash resets the producer's connection whether
///   F held the request or the port was closed (not at acks=0, where the
///   rule waits for the last crash);
/// - with no crash left, any fetch or produce: F, a follower before the
///   news and after it, answers NOT_LEADER, or parks one for an epoch newer
///   than its own, which the news then answers NOT_LEADER or leaves parked
///   as it would find it. A fetch F refuses from the leader the news
///   names races the news' first fetch to that leader, so its delivery
///   joins the set (at the head of its channel; one behind it declines):
///   both are F's steps, and nothing else sends on that channel;
fn arrivals_commute(
    s: &impl Channels,
    y: usize,
    f: usize,
    crash_left: bool,
    new_leader: Option<BrokerId>,
    answer_from: Option<usize>,
) -> bool {
    let NodeState::Broker(b) = s.node(f) else {
        return false;
    };
    let r = &b.replica;
    let from_new_leader = is_broker(s, y, new_leader);
    s.channel(y, f).enumerate().all(|(i, m)| match m {
        Msg::Fetch(req) => {
            r.waits_for_epoch(req.leader_epoch) || !(crash_left || from_new_leader && i > 0)
        }
        Msg::FetchResponse(a) => {
            matches!(a.result, FetchResult::NotLeader)
                || r.ignores_answers_to(a.leader_epoch, a.incarnation)
                || (i == 0 && answer_from == Some(y))
        }
        Msg::Produce(req) => !crash_left || r.waits_for_epoch(req.leader_epoch),
        _ => false,
    })
}

/// Whether slot `y` holds broker `id`.
fn is_broker(s: &impl Channels, y: usize, id: Option<BrokerId>) -> bool {
    matches!(s.node(y), NodeState::Broker(g) if Some(g.replica.id) == id)
}

/// Whether broker `g` could send F (slot `f`) a fetch for `epoch` or an
/// older one: a LeaderAndIsr on its way to it names F leader in such an
/// epoch, or it takes F for that leader and awaits an answer from F (of a
/// life that led) other than NOT_LEADER, after which it fetches again. F
/// would refuse such a fetch, which it could not once it crashed, and
/// the refusal would race the news' first fetch to `g` if `g` is the
/// leader the news names. (A follower starts a fetch only on news or on
/// an answer; F, a follower, answers none but with NOT_LEADER, and a
/// NOT_LEADER ends `g`'s fetch.)
fn may_fetch_from(s: &impl Channels, controller: usize, g: usize, f: usize, epoch: Epoch) -> bool {
    let (NodeState::Broker(fb), NodeState::Broker(gb)) = (s.node(f), s.node(g)) else {
        return true;
    };
    let (id, gr) = (fb.replica.id, &gb.replica);
    let believes = gr.partition.leader == Some(id) && gr.partition.leader_epoch <= epoch;
    let answered = believes
        && s.channel(f, g).any(|m| {
            matches!(m, Msg::FetchResponse(a)
                if !matches!(a.result, FetchResult::NotLeader)
                    && gr.awaits_fetch_answer(id, a.leader_epoch, a.incarnation, a.fetch_offset))
        });
    answered
        || s.channel(controller, g).any(|m| {
            matches!(m, Msg::LeaderAndIsr { state, .. }
                if state.leader == Some(id) && state.leader_epoch <= epoch)
        })
}

/// Whether a producer could send broker `f` a produce for `epoch` or an
/// older one, which `f` would refuse at once: it takes `f` for the leader
/// in such an epoch, or a Metadata on its way says so. A later Metadata
/// names the controller's epoch or a newer one, past `epoch`.
fn producer_may_address(s: &impl Channels, controller: usize, f: BrokerId, epoch: Epoch) -> bool {
    (controller + 1..s.actors()).any(|x| {
        let believes = matches!(s.node(x), NodeState::Producer(p)
            if p.leader == Some(f) && p.leader_epoch <= epoch);
        believes
            || s.channel(controller, x).any(|m| {
                matches!(m, Msg::Metadata { leader, leader_epoch }
                    if *leader == Some(f) && *leader_epoch <= epoch)
            })
    })
}

/// F's leader's slot, where the answer to F's fetch, other than
/// NOT_LEADER, is at the head of its channel to F. Its delivery joins the
/// set: F appends or truncates and fetches again in its epoch, which the
/// news would have made it ignore. Only F's own arrivals could come
/// between, and they leave F's log alone and send to others than its
/// leader (a broker that led in F's epoch fetches from F in no epoch F
/// refuses), so the answer can be taken before any of them. Nor can the
/// leader answer again: F has one fetch at a time.
fn answer_at_head(s: &impl Channels, cfg: &ModelConfig, f: usize) -> Option<usize> {
    let NodeState::Broker(b) = s.node(f) else {
        return None;
    };
    let r = &b.replica;
    let leader = r.partition.leader.filter(|_| r.fetch_in_flight)?;
    let l = usize::from(cfg.layout().id(Node::Broker(leader)));
    match s.channel(l, f).next() {
        Some(Msg::FetchResponse(a))
            if !matches!(a.result, FetchResult::NotLeader)
                && r.awaits_fetch_answer(leader, a.leader_epoch, a.incarnation, a.fetch_offset) =>
        {
            Some(l)
        }
        _ => None,
    }
}

/// Whether F's leader could still answer F's fetch with anything but
/// NOT_LEADER: it leads in F's epoch, or a LeaderAndIsr it accepts would
/// make it.
fn fetch_may_be_answered(s: &impl Channels, cfg: &ModelConfig, f: usize) -> bool {
    let NodeState::Broker(b) = s.node(f) else {
        return true;
    };
    let r = &b.replica;
    let Some(leader) = r.partition.leader.filter(|_| r.fetch_in_flight) else {
        return false;
    };
    let epoch = r.partition.leader_epoch;
    let l = usize::from(cfg.layout().id(Node::Broker(leader)));
    let controller = usize::from(cfg.layout().id(Node::Controller));
    let NodeState::Broker(lb) = s.node(l) else {
        return true;
    };
    let lr = &lb.replica;
    if lb.down {
        // Whatever is on its way to it is for the life that ended.
        return false;
    }
    let leads = lr.is_leader() && lr.partition.leader_epoch == epoch;
    leads
        || s.channel(controller, l).any(|m| {
            matches!(m, Msg::LeaderAndIsr { state, broker_epoch }
                if *broker_epoch == lr.incarnation
                    && state.leader == Some(leader)
                    && state.leader_epoch == epoch)
        })
}
