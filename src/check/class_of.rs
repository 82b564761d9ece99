//! Fingerprints of stateright's states, as the search's classes name them.

use super::table::Fingerprint;
use crate::model::state::{KafkaState, without_ignored};
use crate::model::symmetry;
use stateright::actor::Network;

/// A stateright state's fingerprint, equal to its compact twin's.
pub fn fingerprint(state: &KafkaState, symmetry: bool) -> Fingerprint {
    match state.network {
        Network::Ordered(_) => symmetry::fingerprint(state, symmetry),
        // Unordered networks are only searched as stateright states.
        _ => std::hash::BuildHasher::hash_one(&crate::model::digest::hasher(), state),
    }
}

/// The fingerprint of the class the search put `state` in: with
/// `drop_ignored`, that of the state without the messages its receivers
/// ignore for good, which the search's states never hold.
pub fn class_of(state: &KafkaState, (symmetry, drop_ignored): (bool, bool)) -> Fingerprint {
    match drop_ignored {
        true => fingerprint(&without_ignored(state), symmetry),
        false => fingerprint(state, symmetry),
    }
}
