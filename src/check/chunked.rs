//! A vector that grows by whole chunks. The search's graph grows to
//! hundreds of megabytes one push at a time; a `Vec` would copy all of it
//! at every doubling, and that copying was a tenth of the search's time.

use std::ops::{Index, IndexMut};

/// Chunks of 2^`SHIFT` elements: a million by default, for the graph; the
/// class table's 64 shards take smaller ones, so that a small search does
/// not reserve a chunk per shard it barely uses.
pub struct Chunked<T, const SHIFT: u32 = 20> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T, const SHIFT: u32> Default for Chunked<T, SHIFT> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T, const SHIFT: u32> Chunked<T, SHIFT> {
    const CHUNK: usize = 1 << SHIFT;

    pub fn push(&mut self, v: T) {
        if self.len.is_multiple_of(Self::CHUNK) {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(v);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl<T, const SHIFT: u32> Index<usize> for Chunked<T, SHIFT> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &self.chunks[i >> SHIFT][i & (Self::CHUNK - 1)]
    }
}

impl<T, const SHIFT: u32> IndexMut<usize> for Chunked<T, SHIFT> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &mut self.chunks[i >> SHIFT][i & (Self::CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks() {
        const CHUNK: usize = 1 << 20;
        let mut c: Chunked<u32> = Chunked::default();
        for i in 0..(CHUNK + 10) as u32 {
            c.push(i);
        }
        assert_eq!(c.len(), CHUNK + 10);
        assert_eq!(c[CHUNK - 1], CHUNK as u32 - 1);
        assert_eq!(c[CHUNK + 9], CHUNK as u32 + 9);
        c[CHUNK] = 7;
        assert_eq!(c[CHUNK], 7);
    }
}
