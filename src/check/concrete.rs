//! The shortest path on stateright's own states to a class the search
//! found violating, where the path of classes needs extra steps.
//!
//! With ignored messages dropped (`CompactModel::dropping_ignored`) the
//! search measures paths between classes of states without those
//! messages, but stateright's states keep them, and a replay must deliver
//! one wherever it heads the channel of the next step: a step more than
//! the search measured. The nearest violating class may need such
//! deliveries on every path to it while a class a step farther, or a
//! path through other classes, needs none. This searches concrete states
//! breadth first, inside the class graph, for a path shorter than the
//! replay's, keeping a state only if its class can still reach a
//! violating class in the steps left (the class graph's distances, an
//! estimate, since a class step is at least one concrete step).

use super::class_of::{class_of, fingerprint};
use super::graph::{Bfs, Bits, Graph};
use super::table::Fingerprint;
use super::trace::Trace;
use crate::model::state::{KafkaModel, KafkaState};
use stateright::Model;
use std::collections::{HashMap, HashSet};

/// The most concrete states one search holds before it gives up and the
/// replay stands: the states within a step or two of the shortest paths
/// are few in every scenario we know.
const MAX_STATES: usize = 1 << 17;

/// A path to a class in `goal` of fewer than `longer_than` steps on
/// stateright's states, if the classes within that distance hold one
/// and looking stays under `MAX_STATES`.
pub(super) fn shorter_path(
    model: &KafkaModel,
    (g, bfs): (&Graph, &Bfs),
    goal: &Bits,
    longer_than: usize,
    (symmetry, drop_ignored): (bool, bool),
) -> Option<Trace> {
    let budget = u32::try_from(longer_than).ok()?.checked_sub(1)?;
    let dist = distances_to((g, bfs), goal, budget);
    // Class fingerprint → steps still needed, for the classes on some
    // path short enough.
    let left: HashMap<Fingerprint, u32> = dist
        .iter()
        .map(|(&c, &d)| (g.fingerprints[c as usize], d))
        .collect();
    let class = |s: &KafkaState| class_of(s, (symmetry, drop_ignored));
    let (_, init_index) = *g.roots.iter().find(|(r, _)| dist.contains_key(r))?;
    let init = model.init_states().into_iter().nth(init_index)?;

    // Each state found, as (parent, action index) into this arena.
    let mut arena: Vec<(usize, usize)> = vec![(usize::MAX, 0)];
    let mut frontier = vec![(init, 0usize)];
    let mut seen = HashSet::new();
    let mut actions = Vec::new();
    let mut found = None;
    'steps: for k in 1..=budget {
        let mut next = Vec::new();
        for (s, node) in &frontier {
            actions.clear();
            model.actions(s, &mut actions);
            for (i, a) in actions.drain(..).enumerate() {
                let Some(n) = model.next_state(s, a) else {
                    continue;
                };
                if !model.within_boundary(&n) {
                    continue;
                }
                let Some(&needs) = left.get(&class(&n)) else {
                    continue;
                };
                if k + needs > budget || !seen.insert(fingerprint(&n, symmetry)) {
                    continue;
                }
                arena.push((*node, i));
                if needs == 0 {
                    found = Some(arena.len() - 1);
                    break 'steps;
                }
                if arena.len() > MAX_STATES {
                    return None;
                }
                next.push((n, arena.len() - 1));
            }
        }
        frontier = next;
    }
    let mut node = found?;
    let mut indices = Vec::new();
    while arena[node].0 != usize::MAX {
        indices.push(arena[node].1);
        node = arena[node].0;
    }
    indices.reverse();
    Trace::replay(model, init_index, indices)
}

/// Each class from which the class graph reaches `goal` in at most
/// `budget` steps, with the fewest steps it takes, among the classes a
/// root reaches in `budget` steps or fewer, with room for the rest.
fn distances_to((g, bfs): (&Graph, &Bfs), goal: &Bits, budget: u32) -> HashMap<u32, u32> {
    // Deepest first, so that most distances settle in one pass: each
    // class with its distance from a root.
    let levels = bfs.levels.windows(2).take(budget as usize + 1);
    let mut near: Vec<(u32, u32)> = levels
        .enumerate()
        .flat_map(|(d, w)| bfs.order[w[0]..w[1]].iter().map(move |&c| (c, d as u32)))
        .collect();
    near.reverse();
    let mut dist = vec![u32::MAX; g.fingerprints.len()];
    for &(c, _) in &near {
        if goal.contains(c) {
            dist[c as usize] = 0;
        }
    }
    loop {
        let mut changed = false;
        for &(c, depth) in &near {
            let mut best = dist[c as usize];
            g.each_successor(c, |s| best = best.min(dist[s as usize].saturating_add(1)));
            if best < dist[c as usize] && best <= budget - depth {
                dist[c as usize] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    near.into_iter()
        .filter(|&(c, _)| dist[c as usize] != u32::MAX)
        .map(|(c, _)| (c, dist[c as usize]))
        .collect()
}
