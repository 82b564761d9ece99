//! A TCP proxy in front of one node, to cut it off the network: every
//! client, peer and controller connection to or from a broker passes
//! through one, and a blocked proxy drops its connections and refuses new
//! ones, as a partition would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    blocked: watch::Sender<bool>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Proxy> {
        let listener = listen("127.0.0.1:0".parse().expect("an address"))?;
        let addr = listener.local_addr()?;
        let target = Arc::new(Mutex::new(target));
        let (blocked, _) = watch::channel(false);
        let proxy = Proxy {
            addr,
            target: target.clone(),
            blocked,
        };
        let blocked = proxy.blocked.subscribe();
        tokio::spawn(serve(listener, addr, target, blocked));
        Ok(proxy)
    }

    /// Where connections go from now on (a restarted broker's new port).
    pub fn retarget(&self, to: SocketAddr) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }

    pub fn block(&self, on: bool) {
        self.blocked.send_replace(on);
    }
}

/// A listener that can take its port back after closing it.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(128)
}

/// While blocked the port is closed: a new connection is refused, which a
/// client knows for a definite failure, and open ones are dropped, which
/// leaves their requests unknown, as a partition does.
async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    mut blocked: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => Some(a),
            _ = blocked.wait_for(|b| *b) => None,
        };
        let inbound = match accepted {
            Some(Ok((inbound, _))) => inbound,
            Some(Err(_)) => continue,
            None => {
                drop(listener);
                if blocked.wait_for(|b| !*b).await.is_err() {
                    return;
                }
                listener = loop {
                    match listen(addr) {
                        Ok(l) => break l,
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                };
                continue;
            }
        };
        let to = *target.lock().unwrap_or_else(|p| p.into_inner());
        let mut blocked = blocked.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(to).await else {
                return;
            };
            let _ = outbound.set_nodelay(true);
            let _ = inbound.set_nodelay(true);
            let mut inbound = inbound;
            tokio::select! {
                _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = blocked.wait_for(|b| *b) => {}
            }
        });
    }
}
