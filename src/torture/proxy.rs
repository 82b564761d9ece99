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
        let listener = listen_below_ephemeral()?;
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

/// Ports the kernel does not hand out to outgoing connections (Linux's
/// ephemeral range starts at 32768): a blocked proxy closes its port, and
/// must find it free again when the partition heals.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

fn listen_below_ephemeral() -> std::io::Result<TcpListener> {
    let mut rng = super::nemesis::Rng::new(
        u64::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
    );
    let mut last = None;
    for _ in 0..200 {
        let port = rng.between(u64::from(PORTS.start), u64::from(PORTS.end)) as u16;
        match listen(SocketAddr::from(([127, 0, 0, 1], port))) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
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
