//! Serving until Ctrl-C: a controller and brokers in this process, one
//! broker, or the controller alone. The command line (in the binary) turns
//! its flags into these options and checks them first.

use super::control::serve::{Plane, serve_controller};
use super::runtime::{BrokerOptions, controlled_shutdown, start_broker, start_cluster};
use super::trace::{TraceSink, open_sink};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A whole cluster on one machine.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    pub controller: SocketAddr,
    /// One address per broker; port 0 picks a free one.
    pub brokers: Vec<SocketAddr>,
    /// `broker.session.timeout.ms`.
    pub session_timeout: Duration,
    /// `leader.imbalance.check.interval.seconds` when
    /// `auto.leader.rebalance.enable` holds.
    pub leader_balance: Option<Duration>,
    /// Every broker's options; id and addresses are set per broker.
    pub template: BrokerOptions,
    /// Where each node writes its trace, if anywhere.
    pub trace_dir: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn trace_sink(path: Option<&Path>) -> Result<TraceSink, String> {
    open_sink(path).map_err(|e| {
        let p = path.unwrap_or(Path::new("")).display();
        format!("cannot write the trace {p}: {e}")
    })
}

/// Ctrl-C or SIGTERM (what `kill` and service managers send) stops the
/// process. What it wrote is in the files already, and the metadata log is
/// fsynced, so a stop loses nothing a restart needs.
async fn until_ctrl_c() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    eprintln!("insync: stopping");
}

/// Starts the cluster, prints its bootstrap addresses, serves until Ctrl-C.
pub fn run_cluster(plan: ClusterPlan) -> Result<(), String> {
    if let Some(dir) = &plan.trace_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    runtime()?.block_on(async {
        let c = start_cluster(
            plan.controller,
            &plan.brokers,
            plan.session_timeout,
            plan.leader_balance,
            &plan.template,
            plan.trace_dir.as_deref(),
        )
        .await?;
        println!("bootstrap: {}", c.bootstrap());
        eprintln!(
            "insync: {} broker(s) and a controller at {}; Ctrl-C stops them \
             (Metadata names a broker as \"controller\", as KRaft brokers do: \
             the one that forwards admin requests)",
            plan.brokers.len(),
            c.controller
        );
        until_ctrl_c().await;
        Ok(())
    })
}

/// Starts one broker, prints its address, serves until Ctrl-C or SIGTERM,
/// then stops as Kafka's broker does: a controlled shutdown, which moves
/// its leaderships away before it goes (`BrokerServer.shutdown` →
/// `BrokerLifecycleManager.beginControlledShutdown`). The process exits 0
/// once the controller allows it; a second signal, or no answer within
/// the session timeout, stops it at once, uncleanly (SIGKILL always does).
pub fn run_broker(opts: BrokerOptions) -> Result<(), String> {
    let (id, listen, wait) = (opts.id, opts.listen, opts.session_timeout);
    runtime()?.block_on(async {
        let (addr, shared) = start_broker(opts)
            .await
            .map_err(|e| format!("cannot start broker {id} on {listen}: {e}"))?;
        println!("broker {id}: {addr}");
        until_ctrl_c().await;
        tokio::select! {
            () = controlled_shutdown(&shared, id, wait) => {
                Err(format!("broker {id}: stopped without a controlled shutdown"))
            }
            () = until_ctrl_c() => Err(format!("broker {id}: stopped during its controlled shutdown")),
        }
    })
}

/// Starts the controller, prints its address, serves until Ctrl-C.
pub fn run_controller(
    listen: SocketAddr,
    session_timeout: Duration,
    leader_balance: Option<Duration>,
    trace: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<(), String> {
    let trace = trace_sink(trace)?;
    let plane = Plane::open(session_timeout, trace.is_some(), data_dir)?;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("controller: {addr}");
        tokio::select! {
            r = serve_controller(listener, plane, session_timeout, leader_balance, trace) => r.map_err(|e| format!("the listener failed: {e}")),
            _ = until_ctrl_c() => Ok(()),
        }
    })
}
