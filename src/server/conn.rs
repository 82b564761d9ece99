//! The TCP side: accepts connections and runs each through the framing and
//! the request handler. A connection that sends what cannot be parsed is
//! closed alone; every other connection keeps being served.

use super::api::{self, Reply};
use super::group::plane::GroupPlane;
use super::shared::Shared;
use crate::wire::frame::Frames;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a listener needs to know.
#[derive(Clone, Debug)]
pub struct ListenConfig {
    /// `socket.request.max.bytes`.
    pub max_request_bytes: usize,
    /// The broker every connection works on.
    pub shared: Arc<Shared>,
    /// The consumer groups it coordinates.
    pub groups: Arc<GroupPlane>,
}

/// Serves every connection `listener` accepts, until the task is dropped.
pub async fn serve(listener: TcpListener, cfg: ListenConfig) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        // As Kafka's acceptor does: small responses (acks, follower fetch
        // answers) must not wait behind Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let cfg = cfg.clone();
        tokio::spawn(async move {
            if let Err(why) = connection(stream, &cfg).await {
                eprintln!("insync: closing the connection from {peer}: {why}");
            }
        });
    }
}

/// Runs one connection to its end: `Ok` when the client hung up cleanly,
/// `Err` with the reason when the broker closed it.
async fn connection(mut stream: TcpStream, cfg: &ListenConfig) -> Result<(), String> {
    let mut frames = Frames::new(cfg.max_request_bytes);
    // Reused for every response: its capacity stays, so large answers do
    // not fault in fresh pages each time.
    let mut out = bytes::BytesMut::with_capacity(64 * 1024);
    loop {
        let n = stream
            .read_buf(frames.read_target())
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return match frames.pending() {
                0 => Ok(()),
                left => Err(format!(
                    "the client hung up in the middle of a frame ({left} bytes)"
                )),
            };
        }
        while let Some(body) = frames.next_frame().map_err(|e| e.to_string())? {
            // One request at a time per connection, as Kafka mutes a
            // connection until its request is answered: answers keep order.
            match api::handle(body, &cfg.shared, &cfg.groups).await {
                Reply::Respond(resp) => {
                    out.clear();
                    resp.encode_into(&mut out)?;
                    stream.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                Reply::Nothing => {}
                Reply::Close(why) => return Err(why),
            }
        }
    }
}

/// Binds `addr` (port 0 picks a free one) and returns the bound address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
