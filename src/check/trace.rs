//! A path through the model, as the report and the Explorer show it.

use crate::model::state::{KafkaModel, KafkaState};
use stateright::Model;

/// The states from an initial one, the actions between them, and the index
/// of each action among `model.actions(state)` (the numbering stateright's
/// Explorer uses in its `/#/steps/...` links).
#[derive(Clone, Debug)]
pub struct Trace {
    pub init_index: usize,
    pub states: Vec<KafkaState>,
    pub actions: Vec<<KafkaModel as Model>::Action>,
    pub action_indices: Vec<usize>,
}

impl Trace {
    /// Replays `action_indices` from the `init_index`-th initial state.
    /// Returns `None` if an index names no action or a disabled one.
    pub fn replay(
        model: &KafkaModel,
        init_index: usize,
        action_indices: Vec<usize>,
    ) -> Option<Trace> {
        let mut state = model.init_states().into_iter().nth(init_index)?;
        let mut states = Vec::with_capacity(action_indices.len() + 1);
        let mut actions_out = Vec::with_capacity(action_indices.len());
        let mut actions = Vec::new();
        for &ai in &action_indices {
            actions.clear();
            model.actions(&state, &mut actions);
            let action = actions.get(ai)?.clone();
            let next = model.next_state(&state, action.clone())?;
            states.push(std::mem::replace(&mut state, next));
            actions_out.push(action);
        }
        states.push(state);
        Some(Trace {
            init_index,
            states,
            actions: actions_out,
            action_indices,
        })
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The Explorer's path encoding: the initial state's index, then each action's.
    pub fn explorer_path(&self) -> String {
        let mut parts = vec![self.init_index.to_string()];
        parts.extend(self.action_indices.iter().map(|i| i.to_string()));
        parts.join("/")
    }
}
