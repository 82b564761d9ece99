//! A vector that grows by whole chunks. The search's graph grows to
//! hundreds of megabytes one push at a time; a `Vec` would copy all of it
//! at every doubling, and that copying was a tenth of the search's time.

use std::ops::{Index, IndexMut};

const SHIFT: u32 = 20;
const CHUNK: usize = 1 << SHIFT;

pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    pub fn push(&mut self, v: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(v);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &mut self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks() {
        let mut c = Chunked::default();
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
