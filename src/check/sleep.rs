//! The first pass with sleep sets (Godefroid, "Partial-Order Methods for
//! the Verification of Concurrent Systems", 1996, ch. 5, with state
//! caching): the same classes, reached through fewer transitions.
//!
//! Most of the model's transitions close diamonds: two messages in flight
//! to two different actors can be delivered in either order and reach the
//! same state. Without sleep sets the search computes both orders; with
//! them it computes the second order only where it could lead somewhere
//! the first did not.
//!
//! Why two steps of different actors commute. A delivery of channel
//! (i, j)'s head runs actor j's handler on j's state alone, pops that head
//! and appends to channels (j, _); a timer of actor j, or the controller's
//! election choice, runs j's handler on j's state and timers alone:
//! actors see nothing but their own state and their messages (stateright's
//! actor semantics). A step of another actor l touches l's state, l's
//! timers and channels (_, l) and (l, _). Each leaves the other enabled (a
//! channel's head stays its head when another actor appends to it; only j
//! arms or disarms j's timers) and both orders give the same state, with
//! two exceptions:
//! - the history (the linearizability tester's record) changes when a
//!   client sends or receives, so two clients' steps depend on each other;
//!   a broker's or the controller's step never records;
//! - two steps that both count toward a fault bound (`state::fault_counts`:
//!   crashes, shutdowns, partitions, lag removals, preferred elections)
//!   could take each other out of bounds. A counting step therefore never
//!   sleeps; a step that does sleep counts nothing, and a step's counting
//!   depends only on its own actor's state, so it stays so.
//!
//! A sleep set names steps ("deliver the head of channel (i, j)", "actor
//! i's timer T fires", "the controller elects broker b": `step_names`),
//! and a named step does the same thing in every state where it is asleep,
//! so the name is enough. Classes are stored under their fingerprint: a
//! sleep set is kept in the canonical member's slot numbering and carried
//! to the member at hand through `fingerprint_and_slots`.
//!
//! Every class is still visited (the `--no-por` agreement tests pin it),
//! and every property is a predicate on one state, so verdicts cannot
//! change. A class first expanded with transitions asleep and met again
//! with fewer of them asleep is expanded again for the difference, as
//! Godefroid's algorithm with state caching does; the edges so found go
//! to the graph's `extra` list, so the shortest-path pass sees them.

use super::chunked::Chunked;
use super::deadline::{Deadline, OnProgress, Pacer, Stopped};
use super::graph::{Bits, Graph, record_hits};
use crate::model::actor::NodeState;
use crate::model::compact::{Compact, CompactModel, Tag};
use crate::model::step_names::{NameSet, Names, SlotMap};
use crate::model::symmetry::fingerprint_and_slots;

/// Which steps depend on which, for one model.
struct Dependence {
    names: Names,
    /// The names of each actor's steps.
    owned_by: Vec<NameSet>,
    /// The names of the clients' (producer's, consumer's) steps.
    clients: NameSet,
}

impl Dependence {
    fn of(state: &Compact, rf: usize) -> Dependence {
        let actors = state.slots.len();
        let names = Names::new(actors, rf);
        let owned_by: Vec<NameSet> = (0..actors).map(|a| names.owned_by(a)).collect();
        let clients = state
            .slots
            .iter()
            .zip(&owned_by)
            .filter(|(slot, _)| {
                matches!(
                    slot.node.state,
                    NodeState::Producer(_) | NodeState::Consumer(_)
                )
            })
            .fold(0, |c, (_, owned)| c | owned);
        Dependence {
            names,
            owned_by,
            clients,
        }
    }

    /// The steps of `set` independent of a step of `owner`'s.
    fn independent_of(&self, set: NameSet, owner: u8) -> NameSet {
        let mut keep = set & !self.owned_by[owner as usize];
        if self.clients & self.owned_by[owner as usize] != 0 {
            keep &= !self.clients;
        }
        keep
    }
}

/// A class to expand: its first expansion (`only` is `None`, the sleep set
/// is read from the table when it is popped), or a second one for the
/// transitions in `only`, starting from the sleep set `asleep`. Both in
/// `state`'s own slot numbering.
struct Task {
    id: u32,
    state: Compact,
    to: SlotMap,
    only: Option<NameSet>,
    asleep: NameSet,
}

/// The first pass, as `search::visit`, with sleep sets.
pub(super) fn visit(
    model: &CompactModel,
    rf: usize,
    symmetry: bool,
    decided: &dyn Fn(&Compact) -> u32,
    nprops: usize,
    progress: OnProgress,
    deadline: &Deadline,
) -> (Graph, Vec<Bits>, usize, Option<Stopped>) {
    let mut pacer = Pacer::start();
    let mut stopped = None;
    let mut hits: Vec<Bits> = (0..nprops).map(|_| Bits::default()).collect();
    let mut g = Graph::default();
    // Each class's sleep set, in its canonical member's numbering.
    let mut sleep: Chunked<NameSet> = Chunked::default();
    let mut expanded = Bits::default();
    let init = model.init_state();
    let dep = Dependence::of(&init, rf);
    let names = &dep.names;
    let (fp, to) = fingerprint_and_slots(&init, symmetry);
    let (id, _) = g.intern(fp);
    g.roots.push((id, 0));
    sleep.push(0);
    let mut stack = vec![Task {
        id,
        state: init,
        to,
        only: None,
        asleep: 0,
    }];
    let mut states = 1;
    let mut next = Vec::new();
    let mut decided_so_far = 0;
    while let Some(task) = stack.pop() {
        let first = task.only.is_none();
        let asleep = if first {
            expanded.insert(task.id);
            let bits = decided(&task.state);
            decided_so_far |= bits;
            record_hits(&mut hits, task.id, bits);
            names.unrenamed(sleep[task.id as usize], &task.to)
        } else {
            task.asleep
        };
        // A second expansion takes deliveries only: nothing else sleeps.
        let (skip, others) = match task.only {
            None => (asleep, true),
            Some(only) => (!only, false),
        };
        model.successors_sleeping(&task.state, names, skip, others, &mut next);
        drop(task.state);
        let start = g.succ.len() as u64;
        // Transitions taken here so far: asleep in the later siblings'
        // states where independent of the sibling's own step.
        let mut taken: NameSet = 0;
        for (tag, n) in next.drain(..) {
            states += 1;
            let child_asleep = dep.independent_of(asleep | taken, tag.owner);
            // A step that counts toward a fault bound could take another
            // such step out of bounds: it never sleeps.
            if let Tag {
                name: Some(name),
                counting: false,
                ..
            } = tag
            {
                taken |= 1 << name;
            }
            let (fp, to) = fingerprint_and_slots(&n, symmetry);
            let (nid, new) = g.intern(fp);
            if first {
                g.succ.push(nid);
            } else {
                g.extra.push((task.id, nid));
            }
            let canon = names.renamed(child_asleep, &to);
            if new {
                sleep.push(canon);
                stack.push(Task {
                    id: nid,
                    state: n,
                    to,
                    only: None,
                    asleep: 0,
                });
                continue;
            }
            let old = sleep[nid as usize];
            let now = old & canon;
            if now == old {
                continue;
            }
            sleep[nid as usize] = now;
            if expanded.contains(nid) {
                // Asleep when it was expanded, awake on this path: take
                // those transitions now.
                let only = names.unrenamed(old & !canon, &to);
                stack.push(Task {
                    id: nid,
                    state: n,
                    to,
                    only: Some(only),
                    asleep: child_asleep,
                });
            }
        }
        if first {
            g.range[task.id as usize] = (start, (g.succ.len() as u64 - start) as u32);
        }
        stopped = pacer.tick(g.fingerprints.len(), decided_so_far, progress, deadline);
        if stopped.is_some() {
            break;
        }
    }
    (g, hits, states, stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::step_names::Named;

    fn model(scenario: &str) -> crate::model::state::KafkaModel {
        let path = format!("{}/models/{scenario}.toml", env!("CARGO_MANIFEST_DIR"));
        crate::scenario::Scenario::load(std::path::Path::new(&path))
            .unwrap()
            .config
            .into_model()
    }

    #[test]
    fn steps_of_one_actor_or_of_two_clients_depend_on_each_other() {
        let m = model("consumer-reads-acks-all");
        let init = CompactModel::new(&m).init_state();
        // Brokers 0..3, controller 3, producer 4, consumer 5.
        assert_eq!(init.slots.len(), 6);
        let dep = Dependence::of(&init, 3);
        let n = |step| 1u128 << dep.names.name(step).unwrap();
        let d = |src, dst| n(Named::Deliver { src, dst });
        let crash1 = n(Named::Timer {
            actor: 1,
            timer: crate::model::actor::Timer::Crash,
        });
        let all = d(0, 1) | d(2, 1) | d(1, 0) | d(3, 2) | d(0, 4) | d(1, 5) | crash1;
        let kept = dep.independent_of(all, 1);
        assert_eq!(kept, d(1, 0) | d(3, 2) | d(0, 4) | d(1, 5));
        // The producer's and the consumer's steps both record history.
        let kept = dep.independent_of(all, 4);
        assert_eq!(kept, d(0, 1) | d(2, 1) | d(1, 0) | d(3, 2) | crash1);
    }
}
