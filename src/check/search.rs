//! The exhaustive check, in two passes.
//!
//! 1. A depth-first search visits every reachable symmetry class once,
//!    evaluates every property there, and records the class graph as
//!    integer edges. Depth first, because only the current path's states are
//!    alive: memory stays hot and small (a few dozen bytes per class).
//!    With sleep sets (the default) it runs on several workers
//!    (`sleep::visit`); `--no-por`'s reference search runs on one.
//! 2. A breadth-first search over that integer graph finds, for each
//!    decided property, the class nearest to the initial state, and the
//!    path to it is replayed on concrete states, picking at each step an
//!    action that enters the next class. That works because a fingerprint
//!    is a function of the class alone: every member of a class has a
//!    successor in each class any other member reaches.
//!
//! Lengths are exact under the reduction because every property is symmetric.

use super::class_of::class_of;
use super::concrete::shorter_path;
use super::deadline::Pacer;
pub use super::deadline::{Deadline, OnProgress, Stopped};
use super::graph::{Bits, Graph, record_hits};
use super::shorten::shorten;
use super::trace::Trace;
use crate::model::NetworkKind;
use crate::model::compact::{Compact, CompactModel};
use crate::model::properties::{Check, properties};
use crate::model::state::{KafkaModel, KafkaState, View};
use crate::model::symmetry;
use stateright::{Expectation, Model};
use std::collections::HashMap;

pub use super::table::Fingerprint;

pub use super::class_of::fingerprint;

/// What the first pass walks.
trait Space {
    type State;
    fn init_states(&self) -> Vec<Self::State>;
    /// The successors that stay within the model's bounds.
    fn successors(&self, state: &Self::State, out: &mut Vec<Self::State>);
    fn fingerprint(&self, state: &Self::State) -> Fingerprint;
    /// Bit `i` is set when `state` decides property `i`.
    fn decided(&self, state: &Self::State) -> u32;
}

/// Bit `i` set when the `i`th property's condition value decides it:
/// false for `always`, true for `sometimes`.
pub(super) fn decided_bits<'a>(results: impl Iterator<Item = (&'a Expectation, bool)>) -> u32 {
    let mut bits = 0;
    for (i, (expectation, holds)) in results.enumerate() {
        let decides = match expectation {
            Expectation::Always | Expectation::Eventually => !holds,
            Expectation::Sometimes => holds,
        };
        if decides {
            bits |= 1 << i;
        }
    }
    bits
}

/// stateright's own states: for unordered networks.
struct ActorSpace<'a> {
    model: &'a KafkaModel,
    props: Vec<stateright::Property<KafkaModel>>,
    symmetry: bool,
}

impl Space for ActorSpace<'_> {
    type State = KafkaState;
    fn init_states(&self) -> Vec<KafkaState> {
        self.model.init_states()
    }
    fn successors(&self, state: &KafkaState, out: &mut Vec<KafkaState>) {
        let mut actions = Vec::new();
        self.model.actions(state, &mut actions);
        out.extend(
            actions
                .into_iter()
                .filter_map(|a| self.model.next_state(state, a))
                .filter(|n| self.model.within_boundary(n)),
        );
    }
    fn fingerprint(&self, state: &KafkaState) -> Fingerprint {
        fingerprint(state, self.symmetry)
    }
    fn decided(&self, state: &KafkaState) -> u32 {
        decided_bits(
            self.props
                .iter()
                .map(|p| (&p.expectation, (p.condition)(self.model, state))),
        )
    }
}

/// The compact states: for the ordered network.
struct CompactSpace<'a> {
    model: CompactModel<'a>,
    cfg: &'a crate::model::ModelConfig,
    props: Vec<(&'static str, Expectation, Check<Compact>)>,
    symmetry: bool,
}

impl Space for CompactSpace<'_> {
    type State = Compact;
    fn init_states(&self) -> Vec<Compact> {
        vec![self.model.init_state()]
    }
    fn successors(&self, state: &Compact, out: &mut Vec<Compact>) {
        self.model.successors(state, out);
    }
    fn fingerprint(&self, state: &Compact) -> Fingerprint {
        symmetry::fingerprint(state, self.symmetry)
    }
    fn decided(&self, state: &Compact) -> u32 {
        let v = View::of(state);
        decided_bits(
            self.props
                .iter()
                .map(|(_, expectation, check)| (expectation, check(self.cfg, state, &v))),
        )
    }
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Distinct states (symmetry classes) visited.
    pub unique_states: usize,
    /// Transitions followed, duplicates included.
    pub states: usize,
    /// The longest shortest path from an initial state.
    pub max_depth: usize,
    /// Every reachable state was visited (random walks: false).
    pub exhausted: bool,
    /// Properties with a deciding state: for `always`, a violating state;
    /// for `sometimes`, a witness.
    pub decided: Vec<&'static str>,
    /// A shortest path to each deciding state that could be replayed.
    pub discoveries: HashMap<&'static str, Trace>,
    /// Random walks taken (0 for a search).
    pub walks: u64,
    /// Why a search ended before it had visited every state.
    pub stopped: Option<Stopped>,
}

/// The first pass: depth first over every class, recording the class
/// graph, which classes decide which property, and how many transitions
/// were followed.
fn visit<S: Space>(
    space: &S,
    nprops: usize,
    progress: OnProgress,
    deadline: &Deadline,
) -> (Graph, Vec<Bits>, usize, Option<Stopped>) {
    let mut pacer = Pacer::start();
    let mut stopped = None;
    let mut hits: Vec<Bits> = (0..nprops).map(|_| Bits::default()).collect();
    let mut g = Graph::default();
    let mut states = 0;
    let mut stack: Vec<(u32, S::State)> = Vec::new();
    for (i, s) in space.init_states().into_iter().enumerate() {
        states += 1;
        let (id, new) = g.intern(space.fingerprint(&s));
        if new {
            g.roots.push((id, i));
            stack.push((id, s));
        }
    }
    let mut next = Vec::new();
    let mut fps = Vec::new();
    let mut decided = 0;
    while let Some((id, state)) = stack.pop() {
        let bits = space.decided(&state);
        decided |= bits;
        record_hits(&mut hits, id, bits);
        space.successors(&state, &mut next);
        drop(state);
        let start = g.succ.len() as u64;
        // Fingerprint every successor first, so each lookup's memory is on
        // its way while the next fingerprint is computed.
        fps.clear();
        for n in &next {
            let fp = space.fingerprint(n);
            g.ids.prefetch(fp);
            fps.push(fp);
        }
        for (n, &fp) in next.drain(..).zip(&fps) {
            states += 1;
            let (nid, new) = g.intern(fp);
            g.succ.push(nid);
            if new {
                stack.push((nid, n));
            }
        }
        g.set_successors(id, start, (g.succ.len() as u64 - start) as usize);
        stopped = pacer.tick(g.fingerprints.len(), decided, progress, deadline);
        if stopped.is_some() {
            // Classes left on the stack keep no successors: the
            // shortest-path pass still finds what was met so far.
            break;
        }
    }
    (g, hits, states, stopped)
}

/// Visits every state of `model` reachable within its boundary and
/// returns each decided property with a shortest path.
pub fn search(
    model: &KafkaModel,
    symmetry: bool,
    (sleep_sets, client_first, drop_ignored, news_first): (bool, bool, bool, bool),
    threads: usize,
    progress: OnProgress,
    deadline: &Deadline,
) -> Outcome {
    let props = model.properties();
    assert!(props.len() <= 32, "decided properties are kept as bits");
    let (g, hits, states, stopped) = if model.cfg.network == NetworkKind::Ordered
        && std::env::var_os("INSYNC_ACTOR_SPACE").is_none()
    {
        let space = CompactSpace {
            model: CompactModel::new(model)
                .dropping_ignored(drop_ignored)
                .news_first(news_first),
            cfg: &model.cfg,
            props: properties::<Compact>(&model.cfg),
            symmetry,
        };
        debug_assert!(
            space
                .props
                .iter()
                .zip(&props)
                .all(|(a, b)| a.0 == b.name && a.1 == b.expectation)
        );
        if sleep_sets {
            let decided = |s: &Compact| space.decided(s);
            super::sleep::visit(
                &space.model,
                model.cfg.kafka.replication_factor as usize,
                (symmetry, client_first),
                &decided,
                props.len(),
                threads,
                progress,
                deadline,
            )
        } else {
            visit(&space, props.len(), progress, deadline)
        }
    } else {
        let space = ActorSpace {
            model,
            props: model.properties(),
            symmetry,
        };
        visit(&space, props.len(), progress, deadline)
    };
    let mut out = Outcome {
        exhausted: stopped.is_none(),
        stopped,
        states,
        ..Outcome::default()
    };
    out.unique_states = g.fingerprints.len();
    progress(out.unique_states, "shortest paths");

    // Breadth first over the class graph: the first decided class met is nearest.
    let bfs = g.breadth_first();
    out.max_depth = bfs.max_depth();
    let mut nearest: Vec<Option<u32>> = vec![None; props.len()];
    for &c in &bfs.order {
        for (p, bits) in nearest.iter_mut().zip(&hits) {
            if p.is_none() && bits.contains(c) {
                *p = Some(c);
            }
        }
        if nearest.iter().all(Option::is_some) {
            break;
        }
    }
    for (i, (p, target)) in props.iter().zip(nearest).enumerate() {
        let Some(target) = target else { continue };
        out.decided.push(p.name);
        let classes = bfs.path_to(target);
        let (_, init_index) = *g
            .roots
            .iter()
            .find(|(r, _)| *r == classes[0])
            .expect("a path starts at a root");
        let path: Vec<Fingerprint> = classes
            .iter()
            .map(|&c| g.fingerprints[c as usize])
            .collect();
        let replayed = replay(model, init_index, &path, (symmetry, drop_ignored));
        // Deliveries of ignored messages made it longer than measured:
        // a path through other classes may need none.
        let replayed = match replayed {
            Some(t) if t.len() > classes.len() - 1 => {
                let options = (symmetry, drop_ignored);
                shorter_path(model, (&g, &bfs), &hits[i], t.len(), options).or(Some(t))
            }
            other => other,
        };
        if let Some(t) = replayed {
            // Clients first can end a path with client steps taken early,
            // which the violation did not need: drop them again.
            let t = match p.expectation {
                Expectation::Always if sleep_sets && client_first => shorten(model, t, p.name),
                _ => t,
            };
            out.discoveries.insert(p.name, t);
        }
    }
    out
}

/// Replays a path of classes, given by their fingerprints from the
/// initial state's on, on concrete states. `None` only if two
/// fingerprints collided, which the 64-bit hash makes vanishingly rare.
///
/// With `drop_ignored` the classes are those of states without the
/// messages their receivers ignore for good (`CompactModel::dropping_ignored`),
/// which stateright's states keep: where one of them heads the channel the
/// next step delivers from, the replay delivers it first, a step that
/// stays in the class.
pub(super) fn replay(
    model: &KafkaModel,
    init_index: usize,
    path: &[Fingerprint],
    (symmetry, drop_ignored): (bool, bool),
) -> Option<Trace> {
    let class = |s: &KafkaState| class_of(s, (symmetry, drop_ignored));
    let mut state = model.init_states().into_iter().nth(init_index)?;
    let mut indices = Vec::with_capacity(path.len());
    let mut actions = Vec::new();
    for &want in &path[1..] {
        let here = class(&state);
        // Breadth first over the steps that stay in the class: the fewest
        // ignored deliveries that clear the way.
        let mut frontier = vec![(state, Vec::new())];
        let mut entered = None;
        while entered.is_none() && !frontier.is_empty() {
            let mut stays = Vec::new();
            for (s, before) in &frontier {
                actions.clear();
                model.actions(s, &mut actions);
                for (i, a) in actions.drain(..).enumerate() {
                    let Some(next) = model.next_state(s, a) else {
                        continue;
                    };
                    if !model.within_boundary(&next) {
                        continue;
                    }
                    let c = class(&next);
                    let mut steps: Vec<usize> = before.clone();
                    steps.push(i);
                    if c == want {
                        entered = Some((steps, next));
                        break;
                    }
                    if drop_ignored && c == here && steps.len() <= MAX_IGNORED_IN_A_ROW {
                        stays.push((next, steps));
                    }
                }
                if entered.is_some() {
                    break;
                }
            }
            frontier = stays;
        }
        let (steps, next) = entered?;
        indices.extend(steps);
        state = next;
    }
    Trace::replay(model, init_index, indices)
}

/// The most ignored deliveries a replay makes before one step of the
/// search: more than any channel holds in the catalogue's scenarios.
const MAX_IGNORED_IN_A_ROW: usize = 8;
