//! Kafka's framing, sans IO: a 4-byte big-endian length, then that many
//! bytes. Bytes go in as they arrive from the socket; whole frames come out,
//! or an error that ends the connection.

use bytes::{Buf, Bytes, BytesMut};

/// Kafka's default `socket.request.max.bytes`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 104_857_600;

#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is negative or over `socket.request.max.bytes`.
    TooLarge { length: i64, max: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { length, max } => write!(
                f,
                "a frame of {length} bytes is outside 0..={max} (socket.request.max.bytes)"
            ),
        }
    }
}

/// Splits a byte stream into frames.
pub struct Frames {
    buf: BytesMut,
    max: usize,
}

impl Frames {
    pub fn new(max: usize) -> Self {
        Frames {
            buf: BytesMut::new(),
            max,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read the socket into directly, with room for a
    /// decent read; what is read there counts as pushed.
    pub fn read_target(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        &mut self.buf
    }

    /// The next whole frame's body, `None` until one has arrived. The
    /// length is judged as soon as its 4 bytes are in, so an oversized
    /// frame is refused before its body is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let length = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if length < 0 || length as usize > self.max {
            return Err(FrameError::TooLarge {
                length: length.into(),
                max: self.max,
            });
        }
        let length = length as usize;
        if self.buf.len() < 4 + length {
            // Room for the whole frame at once, instead of doubling (and
            // copying) the buffer as a large produce trickles in.
            self.buf.reserve(4 + length - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(length).freeze()))
    }

    /// Bytes received but not yet part of a whole frame: a connection
    /// that closes with some left sent a truncated frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// `body` with its length prefix.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_whatever_the_chunking() {
        let mut stream = framed(b"hello");
        stream.extend(framed(b""));
        stream.extend(framed(b"world!"));
        let mut f = Frames::new(16);
        let mut got = Vec::new();
        for b in stream.chunks(3) {
            f.push(b);
            while let Some(frame) = f.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(got, vec![&b"hello"[..], b"", b"world!"]);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused_before_the_body() {
        let mut f = Frames::new(16);
        f.push(&17i32.to_be_bytes());
        assert_eq!(
            f.next_frame(),
            Err(FrameError::TooLarge {
                length: 17,
                max: 16
            })
        );
        let mut f = Frames::new(16);
        f.push(&(-1i32).to_be_bytes());
        assert!(f.next_frame().is_err());
    }

    #[test]
    fn a_truncated_frame_stays_pending() {
        let mut f = Frames::new(16);
        f.push(&framed(b"hello")[..6]);
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.pending(), 6);
    }
}
