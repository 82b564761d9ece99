//! Shortest counterexamples. stateright 0.31 overwrites an `always`
//! discovery with every later violating state (so even its BFS paths are
//! long), so this runs its own breadth-first search that stops at the first
//! violating state of each wanted property: the first found is the shortest.
//! States are deduplicated by their symmetry class, which keeps lengths
//! exact because every property is symmetric.

use crate::model::properties::{KafkaModel, KafkaState};
use crate::model::symmetry::representative;
use stateright::Model;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// A path: the states from an initial one, and the index of each action
/// among `model.actions(state)` (the numbering stateright's Explorer uses).
#[derive(Clone, Debug)]
pub struct Trace {
    pub states: Vec<KafkaState>,
    pub actions: Vec<<KafkaModel as Model>::Action>,
    pub action_indices: Vec<usize>,
}

impl Trace {
    pub fn len(&self) -> usize {
        self.actions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
    /// The Explorer's path encoding: the initial state's index, then each action's.
    pub fn explorer_path(&self) -> String {
        let mut parts = vec!["0".to_string()];
        parts.extend(self.action_indices.iter().map(|i| i.to_string()));
        parts.join("/")
    }
}

fn fingerprint(s: &KafkaState, symmetry: bool) -> u64 {
    let mut h = DefaultHasher::new();
    if symmetry {
        representative(s).hash(&mut h);
    } else {
        s.hash(&mut h);
    }
    h.finish()
}

struct Node {
    state: KafkaState,
    parent: Option<(usize, usize)>, // (parent node, action index)
}

/// Finds, for each wanted `always` property, a shortest path to a state
/// violating it. `max_states` bounds the search; properties not reached
/// by then are left out of the answer.
pub fn shortest_counterexamples(
    model: &KafkaModel,
    wanted: &[&'static str],
    symmetry: bool,
    max_states: usize,
) -> HashMap<&'static str, Trace> {
    let props: Vec<_> = model
        .properties()
        .into_iter()
        .filter(|p| wanted.contains(&p.name))
        .collect();
    let mut found: HashMap<&'static str, Trace> = HashMap::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    for s in model.init_states() {
        if seen.insert(fingerprint(&s, symmetry)) {
            nodes.push(Node {
                state: s,
                parent: None,
            });
            queue.push_back(nodes.len() - 1);
        }
    }
    let mut actions = Vec::new();
    while let Some(i) = queue.pop_front() {
        for p in &props {
            if !found.contains_key(p.name) && !(p.condition)(model, &nodes[i].state) {
                found.insert(p.name, rebuild(model, &nodes, i));
            }
        }
        if found.len() == props.len() || nodes.len() >= max_states {
            break;
        }
        actions.clear();
        model.actions(&nodes[i].state, &mut actions);
        for (ai, a) in actions.drain(..).enumerate() {
            let Some(next) = model.next_state(&nodes[i].state, a) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            if seen.insert(fingerprint(&next, symmetry)) {
                nodes.push(Node {
                    state: next,
                    parent: Some((i, ai)),
                });
                queue.push_back(nodes.len() - 1);
            }
        }
    }
    found
}

fn rebuild(model: &KafkaModel, nodes: &[Node], mut i: usize) -> Trace {
    let mut chain = vec![i];
    while let Some((p, _)) = nodes[i].parent {
        chain.push(p);
        i = p;
    }
    chain.reverse();
    let mut states = Vec::new();
    let mut actions_out = Vec::new();
    let mut indices = Vec::new();
    for w in chain.windows(2) {
        let (_, ai) = nodes[w[1]].parent.expect("child has a parent");
        let mut acts = Vec::new();
        model.actions(&nodes[w[0]].state, &mut acts);
        actions_out.push(acts.swap_remove(ai));
        indices.push(ai);
    }
    for &n in &chain {
        states.push(nodes[n].state.clone());
    }
    Trace {
        states,
        actions: actions_out,
        action_indices: indices,
    }
}
