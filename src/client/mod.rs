//! The Kafka-protocol client side that insync itself needs: one request at
//! a time over one connection, as the follower fetcher and `insync
//! torture`'s producers and consumers use it.
//!
//! What matters for a history is whether a failed call may have taken
//! effect: a request never written is a definite failure, one written but
//! unanswered is unknown.

use crate::wire::frame::framed;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{
    Decodable, HeaderVersion, Request, StrBytes, encode_request_header_into_buffer,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Nothing reached the broker: the request took no effect.
    NotSent(String),
    /// The request may have reached the broker; its effect is unknown.
    Unknown(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(why) => write!(f, "not sent: {why}"),
            CallError::Unknown(why) => write!(f, "no answer: {why}"),
        }
    }
}

pub struct Connection {
    stream: TcpStream,
    next_correlation: i32,
    client_id: StrBytes,
}

impl Connection {
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        within: Duration,
    ) -> Result<Connection, CallError> {
        let stream = tokio::time::timeout(within, TcpStream::connect(addr))
            .await
            .map_err(|_| CallError::NotSent(format!("connecting to {addr} timed out")))?
            .map_err(|e| CallError::NotSent(format!("connecting to {addr}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| CallError::NotSent(e.to_string()))?;
        Ok(Connection {
            stream,
            next_correlation: 1,
            client_id: StrBytes::from_string(client_id.to_string()),
        })
    }

    /// The framed request, and its correlation id.
    fn frame<R: Request>(&mut self, req: &R, version: i16) -> Result<(Vec<u8>, i32), CallError> {
        let correlation = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let mut buf = BytesMut::new();
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = correlation;
        h.client_id = Some(self.client_id.clone());
        encode_request_header_into_buffer(&mut buf, &h)
            .and_then(|()| req.encode(&mut buf, version))
            .map_err(|e| CallError::NotSent(format!("encoding: {e}")))?;
        Ok((framed(&buf), correlation))
    }

    /// Writes `req` and reads nothing back: a Produce with acks=0, which
    /// the broker never answers.
    pub async fn send<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        within: Duration,
    ) -> Result<(), CallError> {
        let (frame, _) = self.frame(req, version)?;
        tokio::time::timeout(within, self.stream.write_all(&frame))
            .await
            .map_err(|_| CallError::Unknown(format!("not sent within {within:?}")))?
            .map_err(|e| CallError::Unknown(format!("sending: {e}")))
    }

    /// Sends `req` at `version` and waits up to `within` for its answer.
    /// After an error the connection is in an unknown state: drop it.
    pub async fn call<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        within: Duration,
    ) -> Result<R::Response, CallError> {
        let (frame, correlation) = self.frame(req, version)?;
        let exchange = async {
            self.stream
                .write_all(&frame)
                .await
                .map_err(|e| CallError::Unknown(format!("sending: {e}")))?;
            let mut len = [0u8; 4];
            self.stream
                .read_exact(&mut len)
                .await
                .map_err(|e| CallError::Unknown(format!("reading: {e}")))?;
            let n = usize::try_from(i32::from_be_bytes(len))
                .map_err(|_| CallError::Unknown("a negative frame length".into()))?;
            let mut body = vec![0u8; n];
            self.stream
                .read_exact(&mut body)
                .await
                .map_err(|e| CallError::Unknown(format!("reading: {e}")))?;
            Ok::<_, CallError>(Bytes::from(body))
        };
        let mut body = tokio::time::timeout(within, exchange)
            .await
            .map_err(|_| CallError::Unknown(format!("no answer within {within:?}")))??;
        fn bad(e: impl std::fmt::Display) -> CallError {
            CallError::Unknown(format!("an undecodable answer: {e}"))
        }
        let header =
            ResponseHeader::decode(&mut body, R::Response::header_version(version)).map_err(bad)?;
        if header.correlation_id != correlation {
            return Err(CallError::Unknown(format!(
                "answer to request {} where {correlation} was expected",
                header.correlation_id
            )));
        }
        R::Response::decode(&mut body, version).map_err(bad)
    }
}
