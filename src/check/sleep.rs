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
//! - with ignored messages dropped (`CompactModel::dropping_ignored`), a
//!   broker's step can drop its own refused fetch at the head of a channel
//!   to another broker, so it changes what delivering that channel's head
//!   does: such deliveries count as depending on the sender's steps too;
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
//! Sleep sets alone visit every class (the `--no-client-first` agreement
//! tests pin it), and every property is a predicate on one state, so
//! verdicts cannot change. A class first expanded with transitions asleep and met again
//! with fewer of them asleep is expanded again for the difference, as
//! Godefroid's algorithm with state caching does; the edges so found go
//! to the graph's `extra` list, so the shortest-path pass sees them.
//!
//! Persistent (ample) sets visit fewer classes; this search takes one
//! only for the clients' steps (`model::client_first`), where the two
//! obstacles below fall: nothing but a client's own request (or the
//! controller's Metadata, already on its way) makes anyone send to a
//! client, and a client step never undoes a violation. Where it applies,
//! `successors_sleeping` offers only the clients' steps, and the sleep
//! sets work within them as Godefroid's combined algorithm does. Which
//! classes the combination meets can then depend on the order of steps
//! (a class may be met only after client steps it could have been met
//! before), never whether a violation is met. Elsewhere, each of two
//! obstacles is enough to rule a persistent set out.
//! - A persistent set that takes actor j's steps must also take every step
//!   that could later put a message on a channel to j that is empty now.
//!   The controller, the leader and the producer can each send to any
//!   broker after steps of their own, so the set grows to nearly every
//!   actor's steps.
//! - The properties are predicates on single states, and a search that
//!   postpones steps keeps such predicates only if the steps it postpones
//!   change nothing they read (the visibility condition, C2 in Clarke,
//!   Grumberg and Peled's "Model Checking"). Nearly every step changes
//!   something a property reads: a follower's log (`replicas_agree`), a
//!   leader's HW (`visible_never_lost`), whether anything is left in
//!   flight (`writes_available`).
//!
//! The workers of one search share the class table (`classes`): a class's
//! sleep set and whether it was expanded change under one lock, so the
//! rule above holds whichever worker meets the class first.

use super::chunked::Chunked;
use super::classes::{Classes, Met, Numbered, Packed};
use super::deadline::{Deadline, OnProgress, Pacer, Stopped};
use super::graph::{Bits, Graph};
use super::pool::Pool;
use super::table::Fingerprint;
use crate::model::actor::NodeState;
use crate::model::compact::{Compact, CompactModel, Portable, Tag};
use crate::model::step_names::{NameSet, Names, SlotMap};
use crate::model::symmetry::fingerprint_and_slots;
use smallvec::SmallVec;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Which steps depend on which, for one model.
struct Dependence {
    names: Names,
    /// The names of each actor's steps.
    owned_by: Vec<NameSet>,
    /// The names of the clients' (producer's, consumer's) steps.
    clients: NameSet,
    /// With ignored messages dropped, the deliveries from each broker to
    /// the brokers: a broker's step can make its own fetch at the head of
    /// such a channel droppable (`NodeState::ignored`), so the delivery
    /// that channel offers changes.
    heads_moved_by: Vec<NameSet>,
}

impl Dependence {
    fn of(state: &Compact, rf: usize, drop_ignored: bool) -> Dependence {
        let actors = state.slots.len();
        let names = Names::new(actors, rf);
        let owned_by: Vec<NameSet> = (0..actors).map(|a| names.owned_by(a)).collect();
        let heads_moved_by = (0..actors)
            .map(|a| match drop_ignored && a < rf {
                true => names.delivered_from(a, rf),
                false => 0,
            })
            .collect();
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
            heads_moved_by,
        }
    }

    /// The steps of `set` independent of `step`.
    fn independent_of(&self, set: NameSet, step: &Tag) -> NameSet {
        let owner = step.owner as usize;
        let mut keep = set & !self.owned_by[owner] & !self.heads_moved_by[owner];
        if self.clients & self.owned_by[owner] != 0 {
            keep &= !self.clients;
        }
        // A delivery between brokers depends on its sender's steps too.
        if let (Some(sender), Some(name)) = (step.sender, step.name)
            && self.heads_moved_by[sender as usize] & (1 << name) != 0
        {
            keep &= !self.owned_by[sender as usize];
        }
        keep
    }
}

/// A class to expand: its first expansion (`only` is `None`, the sleep set
/// is read from the table when it is popped), or a second one for the
/// transitions in `only`, starting from the sleep set `asleep`. Both in
/// `state`'s own slot numbering.
struct Task<S> {
    id: Packed,
    fp: Fingerprint,
    state: S,
    to: SlotMap,
    only: Option<NameSet>,
    asleep: NameSet,
}

impl<S> Task<S> {
    fn with<T>(self, f: impl FnOnce(S) -> T) -> Task<T> {
        Task {
            id: self.id,
            fp: self.fp,
            state: f(self.state),
            to: self.to,
            only: self.only,
            asleep: self.asleep,
        }
    }
}

/// What one worker recorded: the classes it expanded first with their
/// edges, by the classes' names during the search.
struct Part {
    /// (class, count): each class's successors follow the previous one's
    /// in `succ`.
    ranges: Chunked<(Packed, u32)>,
    succ: Chunked<Packed>,
    extra: Vec<(Packed, Packed)>,
    states: usize,
}

/// Everything the workers share.
struct Search<'a> {
    model: &'a CompactModel<'a>,
    dep: Dependence,
    symmetry: bool,
    /// Take the clients' steps alone where `client_first` allows it.
    client_first: bool,
    decided: &'a (dyn Fn(&Compact) -> u32 + Sync),
    classes: Classes,
    pool: Pool<Task<Portable>>,
    decided_so_far: AtomicU32,
    stop: AtomicBool,
    stopped: Mutex<Option<Stopped>>,
}

/// Ends the search for every worker when one unwinds: the others would
/// wait forever for it to run dry, and the panic could never reach the
/// caller.
struct EndOnPanic<'s, 'a>(&'s Search<'a>);

impl Drop for EndOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop.store(true, Ordering::Relaxed);
            self.0.pool.end();
        }
    }
}

/// The caller's thread also keeps the clock: progress and the deadline.
struct Clock<'a> {
    pacer: Pacer,
    progress: OnProgress<'a>,
    deadline: &'a Deadline<'a>,
}

/// The first pass, as `search::visit`, with sleep sets, on `threads`
/// workers. One worker takes every step in the same order each run; more
/// find the same classes, but which edges a sleep set spares can differ.
#[allow(clippy::too_many_arguments)]
pub(super) fn visit(
    model: &CompactModel,
    rf: usize,
    (symmetry, client_first): (bool, bool),
    decided: &(dyn Fn(&Compact) -> u32 + Sync),
    nprops: usize,
    threads: usize,
    progress: OnProgress,
    deadline: &Deadline,
) -> (Graph, Vec<Bits>, usize, Option<Stopped>) {
    let threads = threads.max(1);
    let init = model.init_state();
    let search = Search {
        model,
        dep: Dependence::of(&init, rf, model.drops_ignored()),
        symmetry,
        client_first,
        decided,
        classes: Classes::new(),
        pool: Pool::new(threads),
        decided_so_far: AtomicU32::new(0),
        stop: AtomicBool::new(false),
        stopped: Mutex::new(None),
    };
    let (fp, to) = fingerprint_and_slots(&init, symmetry);
    let root = search.classes.meet(fp, 0).id();
    let first = Task {
        id: root,
        fp,
        state: init,
        to,
        only: None,
        asleep: 0,
    };
    let clock = Clock {
        pacer: Pacer::start(),
        progress,
        deadline,
    };
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads)
            .filter_map(|_| {
                let worker = std::thread::Builder::new().name("insync search".into());
                let started = worker.spawn_scoped(scope, || search.work(Vec::new(), None));
                if started.is_err() {
                    // The system would not give another thread: search on fewer.
                    search.pool.retire();
                }
                started.ok()
            })
            .collect();
        let mut parts = vec![search.work(vec![first], Some(clock))];
        parts.extend(
            others
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        parts
    });
    let stopped = *search.stopped.lock().unwrap_or_else(|e| e.into_inner());
    let numbered = search.classes.number(nprops);
    let (g, hits, states) = merge(numbered, root, parts);
    (g, hits, states, stopped)
}

impl Search<'_> {
    /// Progress, and whether to stop: every few thousand expansions, or
    /// `now`. A stop is recorded, and every worker told.
    fn clock_says(&self, c: &mut Clock, now: bool) -> Option<Stopped> {
        let classes = self.classes.len();
        let decided = self.decided_so_far.load(Ordering::Relaxed);
        let why = if now {
            c.pacer.check(classes, decided, c.progress, c.deadline)
        } else {
            c.pacer.tick(classes, decided, c.progress, c.deadline)
        }?;
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(why);
        self.stop.store(true, Ordering::Relaxed);
        Some(why)
    }

    /// One worker's loop, from the tasks in `stack`.
    fn work(&self, mut stack: Vec<Task<Compact>>, mut clock: Option<Clock>) -> Part {
        let mut part = Part {
            ranges: Chunked::default(),
            succ: Chunked::default(),
            extra: Vec::new(),
            states: 0,
        };
        let _end = EndOnPanic(self);
        // The initial state.
        part.states += stack.len();
        let mut next = Vec::new();
        loop {
            let Some(task) = stack.pop() else {
                // The pool ends the others' wait itself.
                let mut stop = || match &mut clock {
                    Some(c) => self.clock_says(c, true).is_some(),
                    None => self.stop.load(Ordering::Relaxed),
                };
                match self.pool.take(&mut stop) {
                    Some(tasks) => {
                        stack.extend(tasks.into_iter().map(|t| t.with(Portable::into_compact)));
                        continue;
                    }
                    None => break,
                }
            };
            self.expand(task, &mut stack, &mut next, &mut part);
            if let Some(c) = &mut clock {
                if self.clock_says(c, false).is_some() {
                    // Classes left on the stacks keep no successors: the
                    // shortest-path pass still finds what was met so far.
                    self.pool.end();
                    break;
                }
            } else if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if self.pool.wanted() && stack.len() >= 2 {
                let half = stack.len() / 2;
                self.pool
                    .give(stack.drain(..half).map(|t| t.with(Compact::portable)));
            }
        }
        part
    }

    fn expand(
        &self,
        task: Task<Compact>,
        stack: &mut Vec<Task<Compact>>,
        next: &mut Vec<(Tag, Compact)>,
        part: &mut Part,
    ) {
        let names = &self.dep.names;
        let first = task.only.is_none();
        let asleep = if first {
            let bits = (self.decided)(&task.state);
            self.decided_so_far.fetch_or(bits, Ordering::Relaxed);
            names.unrenamed(self.classes.expand(task.fp, bits), &task.to)
        } else {
            task.asleep
        };
        // A second expansion takes deliveries only: nothing else sleeps.
        let (skip, others) = match task.only {
            None => (asleep, true),
            Some(only) => (!only, false),
        };
        self.model
            .successors_sleeping(&task.state, names, (skip, others, self.client_first), next);
        drop(task.state);
        let start = part.succ.len() as u64;
        // Transitions taken here so far: asleep in the later siblings'
        // states where independent of the sibling's own step.
        let mut taken: NameSet = 0;
        // Every successor's fingerprint first, so that each class's table
        // line is on its way while the next fingerprint is computed.
        let mut children: SmallVec<[Child; 16]> = SmallVec::new();
        for (tag, n) in next.drain(..) {
            part.states += 1;
            let child_asleep = self.dep.independent_of(asleep | taken, &tag);
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
            let (fp, to) = fingerprint_and_slots(&n, self.symmetry);
            self.classes.prefetch(fp);
            children.push(Child {
                fp,
                to,
                asleep: child_asleep,
                state: n,
            });
        }
        for Child {
            fp,
            to,
            asleep: child_asleep,
            state: n,
        } in children
        {
            let canon = names.renamed(child_asleep, &to);
            let met = self.classes.meet(fp, canon);
            let nid = met.id();
            if first {
                part.succ.push(nid);
            } else {
                part.extra.push((task.id, nid));
            }
            match met {
                Met::New(_) => {
                    stack.push(Task {
                        id: nid,
                        fp,
                        state: n,
                        to,
                        only: None,
                        asleep: 0,
                    });
                }
                Met::Known(_) => {}
                Met::Woken(_, woken) => {
                    // Asleep when it was expanded, awake on this path:
                    // take those transitions now.
                    let only = names.unrenamed(woken, &to);
                    stack.push(Task {
                        id: nid,
                        fp,
                        state: n,
                        to,
                        only: Some(only),
                        asleep: child_asleep,
                    });
                }
            }
        }
        if first {
            let len = (part.succ.len() as u64 - start) as u32;
            part.ranges.push((task.id, len));
        }
    }
}

/// A successor on its way to the class table: its fingerprint, its slots'
/// places in the canonical member, and its sleep set in its own numbering.
struct Child {
    fp: Fingerprint,
    to: SlotMap,
    asleep: NameSet,
    state: Compact,
}

/// The workers' parts as one graph, by the classes' dense numbers.
fn merge(mut numbered: Numbered, root: Packed, parts: Vec<Part>) -> (Graph, Vec<Bits>, usize) {
    let mut g = Graph::of_classes(std::mem::take(&mut numbered.fingerprints));
    g.roots.push((numbered.id(root), 0));
    let mut states = 0;
    let mut extra = Vec::new();
    for mut p in parts {
        let mut start = g.succ.len() as u64;
        if start == 0 {
            // The first part's edges stay where they are.
            g.succ = std::mem::take(&mut p.succ);
            for i in 0..g.succ.len() {
                g.succ[i] = numbered.id(g.succ[i]);
            }
        } else {
            for i in 0..p.succ.len() {
                g.succ.push(numbered.id(p.succ[i]));
            }
        }
        for i in 0..p.ranges.len() {
            let (id, len) = p.ranges[i];
            g.set_successors(numbered.id(id), start, len as usize);
            start += len as u64;
        }
        let edges = p.extra.iter();
        extra.extend(edges.map(|&(from, to)| (numbered.id(from), numbered.id(to))));
        states += p.states;
    }
    g.add_edges(extra);
    (g, numbered.hits, states)
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
        let dep = Dependence::of(&init, 3, false);
        let n = |step| 1u128 << dep.names.name(step).unwrap();
        let d = |src, dst| n(Named::Deliver { src, dst });
        let crash1 = n(Named::Timer {
            actor: 1,
            timer: crate::model::actor::Timer::Crash,
        });
        let all = d(0, 1) | d(2, 1) | d(1, 0) | d(3, 2) | d(0, 4) | d(1, 5) | crash1;
        let step = |owner| Tag {
            name: None,
            owner,
            sender: None,
            counting: false,
        };
        let kept = dep.independent_of(all, &step(1));
        assert_eq!(kept, d(1, 0) | d(3, 2) | d(0, 4) | d(1, 5));
        // The producer's and the consumer's steps both record history.
        let kept = dep.independent_of(all, &step(4));
        assert_eq!(kept, d(0, 1) | d(2, 1) | d(1, 0) | d(3, 2) | crash1);

        // Dropping ignored messages: a broker's step can drop its own
        // fetch at a channel's head, so deliveries from a broker to a
        // broker also depend on the sender's steps, both ways.
        let dropping = Dependence::of(&init, 3, true);
        let kept = dropping.independent_of(all, &step(1));
        assert_eq!(kept, d(3, 2) | d(0, 4) | d(1, 5));
        let fetch = Tag {
            name: dep.names.name(Named::Deliver { src: 2, dst: 0 }),
            owner: 0,
            sender: Some(2),
            counting: false,
        };
        let crash2 = n(Named::Timer {
            actor: 2,
            timer: crate::model::actor::Timer::Crash,
        });
        let kept = dropping.independent_of(all | crash2, &fetch);
        assert_eq!(kept, d(2, 1) | d(0, 4) | d(1, 5) | crash1);
        // A delivery to a client does not.
        let answer = Tag {
            name: dep.names.name(Named::Deliver { src: 2, dst: 4 }),
            owner: 4,
            sender: Some(2),
            counting: false,
        };
        assert!(dropping.independent_of(crash2, &answer) == crash2);
    }
}
