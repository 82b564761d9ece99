//! The one hasher every fingerprint uses, and a message's digest.

use super::actor::KMsg;

/// Every fingerprint hashes with one fixed-seed hasher, so runs (and state
/// counts) repeat exactly and the hashes compact states cache stay valid.
pub fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6b61_666b_6121, 0x696e_7379_6e63, 0x6973_7221, 0x6873_7721)
}

/// A message's digest, as fingerprints fold it in.
pub fn message_digest(m: &KMsg) -> u64 {
    hasher().hash_one(m)
}
