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
//! rule off). The set T is that delivery, t, and F's own crash if one is
//! left. No step F could take before either changes what they change:
//! - the controller's later messages queue behind t;
//! - on their way to F from brokers are only fetches for epochs newer
//!   than e ([`only_parked_fetches`]), which F parks whether or not t came
//!   first, and which F's crash drops as it drops one that arrives after
//!   it; nor can a broker be told to fetch from F in e or earlier (a
//!   LeaderAndIsr naming F so, [`may_be_told_to_fetch`]): F answers such
//!   a fetch NOT_LEADER, which a crashed F would not;
//! - only F's leader L's answer to a fetch of F's epoch is read, and
//!   anything but NOT_LEADER needs L leading in e: F's fetch must be
//!   answered already, L down (whatever is on its way to it is for its
//!   ended life), or L neither leading in e nor told to
//!   ([`fetch_may_be_answered`]; the controller is past e, since it sent
//!   t). A NOT_LEADER answer only ends F's fetch, which t and a crash end
//!   as well;
//! - no producer can send F a produce for epoch e or older (it takes F for
//!   that epoch's leader, or a Metadata on its way says so,
//!   [`producer_may_address`]); later ones name epochs newer than the
//!   controller's, which F parks before t and after it, and a crash
//!   resets the connection either way.
//!
//! **Why the set is persistent.** t reads and changes F and the head of
//! its channel alone, and F's crash F alone (and the crash bound, which
//! only counts). Other actors' steps touch neither (they append to
//! channels), so they commute with T and leave it enabled; of F's own
//! steps none can come first but those above, which commute with both.
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
//! **No step is postponed forever** (the cycle proviso): each step of T
//! raises F's leader epoch or the crash count, which nothing lowers.
//!
//! `tests/reductions.rs` checks that verdicts and counterexample lengths
//! stay on every small scenario; the conditions above are not yet checked
//! transition by transition, as those of the other reductions are.
//! `--no-news-first` (or `--no-por`) turns the rule off.

use super::actor::NodeState;
use super::client_first::Channels;
use super::config::ModelConfig;
use super::state::View;
use crate::core::messages::{Msg, Node};
use crate::core::types::{BrokerId, Epoch};

/// The follower slots whose news the search may deliver alone. Each
/// makes a persistent set, and so does their union, which the search
/// takes: a set the same for every member of a symmetry class, so that
/// the search meets the same classes in any order.
pub fn news_for(s: &impl Channels, cfg: &ModelConfig) -> Vec<usize> {
    if cfg.network_partitions > 0 || cfg.consumer || cfg.rolling_restart {
        return Vec::new();
    }
    let v = View::of(s);
    let shutdowns_left = v.shutdowns() < u32::from(cfg.controlled_shutdowns);
    drop(v);
    let controller = usize::from(cfg.layout().id(Node::Controller));
    (0..controller)
        .filter(|&f| {
            let NodeState::Broker(b) = s.node(f) else {
                return false;
            };
            let r = &b.replica;
            let Some(Msg::LeaderAndIsr {
                state,
                broker_epoch,
            }) = s.channel(controller, f).next()
            else {
                return false;
            };
            let news = *broker_epoch == r.incarnation
                && state.leader_epoch > r.partition.leader_epoch
                && state.leader != Some(r.id);
            let idle = !b.down && !b.stopping && !b.isolated && r.leader.is_none();
            let no_shutdown = !(shutdowns_left && b.shutdowns < cfg.controlled_shutdowns);
            let epoch = r.partition.leader_epoch;
            news && idle
                && no_shutdown
                && (0..s.actors()).all(|y| y == controller || only_parked_fetches(s, y, f))
                && !fetch_may_be_answered(s, cfg, f)
                && !producer_may_address(s, controller, r.id, epoch)
                && !(0..controller).any(|g| may_be_told_to_fetch(s, controller, g, r.id, epoch))
        })
        .collect()
}

/// Whether everything on its way from `y` to F is a follower's fetch
/// for a newer epoch than F's: F parks each (`on_fetch`) and
/// re-handles it when it hears of that epoch, and a crash drops a parked
/// fetch as it drops one that arrives after it, so its delivery commutes
/// with the news and with F's crash.
fn only_parked_fetches(s: &impl Channels, y: usize, f: usize) -> bool {
    let NodeState::Broker(b) = s.node(f) else {
        return false;
    };
    s.channel(y, f)
        .all(|m| matches!(m, Msg::Fetch(req) if b.replica.waits_for_epoch(req.leader_epoch)))
}

/// Whether a LeaderAndIsr on its way to broker `g` names `f` leader in
/// `epoch` or an older one: `g` would then fetch from `f` in that epoch,
/// and `f` answer NOT_LEADER, which it could not once it crashed. (A
/// follower starts a fetch only on news or on an answer, and `f`, a
/// follower, answers none but with NOT_LEADER.)
fn may_be_told_to_fetch(
    s: &impl Channels,
    controller: usize,
    g: usize,
    f: BrokerId,
    epoch: Epoch,
) -> bool {
    s.channel(controller, g).any(|m| {
        matches!(m, Msg::LeaderAndIsr { state, .. }
            if state.leader == Some(f) && state.leader_epoch <= epoch)
    })
}

/// Whether a producer could send broker `f` a produce for its epoch
/// `epoch` or an older one: it takes `f` for the leader in such an epoch,
/// or a Metadata on its way says so. Any later Metadata names a newer
/// epoch than the controller's, which is past `epoch`.
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
