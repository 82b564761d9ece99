//! A broker's tasks: the Kafka listener, the link to the controller
//! (registration, heartbeats, AlterPartition, topic requests, and the
//! controller's LeaderAndIsr and cluster view coming back), the follower
//! fetcher, and a ticker for `replica.lag.time.max.ms` and the trace.

use super::broker::{Broker, FollowerFetch};
use super::clean_shutdown::Marker;
use super::conn::{ListenConfig, bind, serve};
use super::control::serve::Plane;
use super::control::wire::{self, Reader, ToBroker, ToController};
use super::group::plane::GroupPlane;
use super::metadata::BrokerAddr;
use super::replication::{FOLLOWER_FETCH_VERSION, decode_response, encode_request};
use super::shared::{Outlets, Shared};
use super::topic_settings::TopicSettings;
use super::trace::open_sink;
use crate::client::Connection;
use crate::core::messages::{Msg, Node};
use crate::core::replica::Input;
use crate::core::types::BrokerId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

#[derive(Clone, Debug)]
pub struct BrokerOptions {
    pub id: BrokerId,
    /// Where the broker listens.
    pub listen: SocketAddr,
    /// Where clients and other brokers reach it (Kafka's
    /// `advertised.listeners`), when not where it listens: a proxy in
    /// front of it, as `insync torture` puts there to cut the network.
    pub advertise: Option<SocketAddr>,
    pub controller: SocketAddr,
    /// Where this broker's follower fetches reach each peer, when not at
    /// the address the peer advertises to clients: Kafka's inter-broker
    /// listener, a separate route that `insync torture` can cut apart from
    /// the clients' one.
    pub peer_routes: Vec<(BrokerId, SocketAddr)>,
    pub defaults: TopicSettings,
    /// `socket.request.max.bytes`.
    pub max_request_bytes: usize,
    /// `replica.lag.time.max.ms`.
    pub replica_lag: Duration,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat: Duration,
    /// `broker.session.timeout.ms`: how long a controlled shutdown waits
    /// for the controller before the broker stops without it.
    pub session_timeout: Duration,
    /// `replica.fetch.wait.max.ms`.
    pub fetch_wait: Duration,
    /// JSON lines of every protocol decision.
    pub trace: Option<PathBuf>,
    /// Where the partitions' files live; `None` keeps logs in memory.
    pub data_dir: Option<PathBuf>,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_delay: Duration,
}

/// A controller and its brokers running in this process.
#[derive(Clone, Debug)]
pub struct InProcess {
    pub controller: SocketAddr,
    pub brokers: Vec<SocketAddr>,
    pub shared: Vec<Arc<Shared>>,
}

impl InProcess {
    /// The bootstrap list clients take: every broker, comma-separated.
    pub fn bootstrap(&self) -> String {
        let addrs: Vec<String> = self.brokers.iter().map(ToString::to_string).collect();
        addrs.join(",")
    }
}

/// Starts a controller on `controller` and one broker per address in
/// `brokers`, each from `template` with its id, address and trace file set.
/// `leader_balance` is the controller's `leader.imbalance.check.interval`
/// when `auto.leader.rebalance.enable` holds.
pub async fn start_cluster(
    controller: SocketAddr,
    brokers: &[SocketAddr],
    session_timeout: Duration,
    leader_balance: Option<Duration>,
    template: &BrokerOptions,
    trace_dir: Option<&std::path::Path>,
) -> Result<InProcess, String> {
    let listener = tokio::net::TcpListener::bind(controller)
        .await
        .map_err(|e| format!("cannot listen on {controller}: {e}"))?;
    let controller = listener.local_addr().map_err(|e| e.to_string())?;
    let path = trace_dir.map(|d| d.join("controller.jsonl"));
    let trace = open_sink(path.as_deref()).map_err(|e| {
        format!(
            "cannot write the trace {}: {e}",
            path.unwrap_or_default().display()
        )
    })?;
    let controller_dir = template.data_dir.as_ref().map(|d| d.join("controller"));
    let plane = Plane::open(session_timeout, trace.is_some(), controller_dir.as_deref())?;
    tokio::spawn(super::control::serve::serve_controller(
        listener,
        plane,
        session_timeout,
        leader_balance,
        trace,
    ));
    let mut out = InProcess {
        controller,
        brokers: Vec::new(),
        shared: Vec::new(),
    };
    for (i, listen) in brokers.iter().enumerate() {
        let id = BrokerId::try_from(i).map_err(|_| "too many brokers")?;
        let opts = BrokerOptions {
            id,
            listen: *listen,
            controller,
            trace: trace_dir.map(|d| d.join(format!("broker-{id}.jsonl"))),
            data_dir: template
                .data_dir
                .as_ref()
                .map(|d| d.join(format!("broker-{id}"))),
            ..template.clone()
        };
        let (addr, shared) = start_broker(opts)
            .await
            .map_err(|e| format!("cannot start broker {id} on {listen}: {e}"))?;
        out.brokers.push(addr);
        out.shared.push(shared);
    }
    Ok(out)
}

/// Binds the listener and starts every task of the broker. Returns the
/// bound address (the port may have been 0) and the broker's state.
pub async fn start_broker(opts: BrokerOptions) -> std::io::Result<(SocketAddr, Arc<Shared>)> {
    let (listener, addr) = bind(opts.listen).await?;
    let trace = open_sink(opts.trace.as_deref())?;
    let (control_tx, control_rx) = unbounded_channel();
    let (fetch_tx, fetch_rx) = unbounded_channel();
    let mut broker = Broker::new(opts.id, opts.defaults.clone(), trace);
    let mut previous_broker_epoch = None;
    if let Some(dir) = &opts.data_dir {
        std::fs::create_dir_all(dir)?;
        match super::clean_shutdown::take(dir)? {
            Marker::Absent => {}
            Marker::Epoch(e) => {
                eprintln!(
                    "insync broker {}: the last life stopped cleanly at broker epoch {e}",
                    opts.id
                );
                previous_broker_epoch = Some(e);
            }
            Marker::Unreadable(why) => eprintln!(
                "insync broker {}: the clean-shutdown marker is unreadable ({why}); \
                 registering as after an unclean stop",
                opts.id
            ),
        }
        for note in broker.open_data_dir(dir)? {
            eprintln!("insync broker {}: recovery: {note}", opts.id);
        }
    }
    let outlets = Outlets {
        control: control_tx,
        fetches: fetch_tx,
    };
    let shared = Arc::new(Shared::new(broker, outlets));
    let reached = opts.advertise.unwrap_or(addr);
    let me = BrokerAddr {
        id: opts.id,
        host: reached.ip().to_string(),
        port: reached.port(),
    };
    let groups = Arc::new(GroupPlane::new(opts.group_initial_delay));
    tokio::spawn(serve(
        listener,
        ListenConfig {
            max_request_bytes: opts.max_request_bytes,
            shared: shared.clone(),
            groups: groups.clone(),
        },
    ));
    tokio::spawn(group_ticker(groups));
    let incarnation = uuid::Uuid::new_v4();
    tokio::spawn(control_link(
        opts.clone(),
        Registration {
            me,
            incarnation,
            previous_broker_epoch,
        },
        shared.clone(),
        control_rx,
    ));
    tokio::spawn(fetcher(opts.clone(), shared.clone(), fetch_rx));
    tokio::spawn(ticker(opts.clone(), shared.clone()));
    tokio::spawn(pause_on_sigusr1(opts.id, shared.clone()));
    tokio::spawn(survive_file_size_limit());
    Ok((addr, shared))
}

/// Who this broker process is, as every connection to the controller
/// registers it.
struct Registration {
    me: BrokerAddr,
    /// This process's life (KRaft's `incarnationId`).
    incarnation: uuid::Uuid,
    /// The broker epoch the last life's clean-shutdown marker kept.
    previous_broker_epoch: Option<u64>,
}

/// Why a connection to the controller ended.
enum LinkError {
    /// The controller refused the registration: ask again after
    /// `broker.heartbeat.interval.ms`, as Kafka's `BrokerLifecycleManager`
    /// does after a registration error.
    Refused(String),
    /// The connection failed or broke: reconnect.
    Broken(String),
}

impl From<String> for LinkError {
    fn from(why: String) -> Self {
        LinkError::Broken(why)
    }
}

/// Keeps a registered connection to the controller, reconnecting when it
/// breaks, and applies what the controller says.
async fn control_link(
    opts: BrokerOptions,
    who: Registration,
    shared: Arc<Shared>,
    mut outgoing: UnboundedReceiver<ToController>,
) {
    let mut warned = false;
    loop {
        match control_session(&opts, &who, &shared, &mut outgoing).await {
            Ok(()) => return,
            Err(LinkError::Refused(why)) => {
                eprintln!(
                    "insync broker {}: the controller refused the registration: {why}; \
                     asking again in {:?}",
                    opts.id, opts.heartbeat
                );
                tokio::time::sleep(opts.heartbeat).await;
            }
            Err(LinkError::Broken(why)) => {
                if !warned {
                    eprintln!(
                        "insync broker {}: controller {}: {why}; retrying",
                        opts.id, opts.controller
                    );
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn control_session(
    opts: &BrokerOptions,
    who: &Registration,
    shared: &Shared,
    outgoing: &mut UnboundedReceiver<ToController>,
) -> Result<(), LinkError> {
    let stream = TcpStream::connect(opts.controller)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let mut reader = Reader::new(read);
    let register = ToController::Register {
        broker: who.me.clone(),
        incarnation: who.incarnation,
        previous_broker_epoch: who.previous_broker_epoch,
    };
    wire::send(&mut write, &register)
        .await
        .map_err(|e| e.to_string())?;
    // Nothing else goes out before the answer: a refused connection is
    // closed, and what was sent on it would be lost.
    match reader.next::<ToBroker>().await? {
        Some(ToBroker::RegistrationRefused { error, message }) => {
            return Err(LinkError::Refused(format!("{error}: {message}")));
        }
        Some(registered @ ToBroker::Registered { .. }) => apply(shared, registered),
        Some(other) => {
            return Err(LinkError::Broken(format!(
                "the controller answered the registration with {other:?}"
            )));
        }
        None => {
            return Err(LinkError::Broken(
                "the controller closed the connection".into(),
            ));
        }
    }
    if shared.stopping.load(Ordering::SeqCst) {
        // The request may have been lost with the old connection, or the
        // controller restarted without it: ask again, as Kafka's broker
        // keeps asking (`BrokerLifecycleManager` sends wantShutDown in
        // every heartbeat until the controller answers).
        wire::send(&mut write, &ToController::ControlledShutdown)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut beat = tokio::time::interval(opts.heartbeat);
    loop {
        tokio::select! {
            msg = outgoing.recv() => {
                let Some(msg) = msg else { return Ok(()) };
                wire::send(&mut write, &msg).await.map_err(|e| e.to_string())?;
            }
            // A stopping broker falls silent: should its shutdown request
            // be lost, the session timeout still takes it out.
            _ = beat.tick(), if !shared.stopping.load(Ordering::SeqCst) => {
                wire::send(&mut write, &ToController::Heartbeat).await.map_err(|e| e.to_string())?;
            }
            msg = reader.next::<ToBroker>() => {
                let Some(msg) = msg? else { return Err(LinkError::Broken("the controller closed the connection".into())) };
                apply(shared, msg);
            }
        }
    }
}

fn apply(shared: &Shared, msg: ToBroker) {
    {
        let mut b = shared.lock();
        match msg {
            ToBroker::Registered { broker_epoch, life } => {
                if let Err(why) = b.registered(broker_epoch, life) {
                    eprintln!("insync broker {}: {why}; stopping", b.id);
                    std::process::exit(3);
                }
            }
            // Only ever the answer to a registration, which
            // `control_session` reads itself.
            ToBroker::RegistrationRefused { .. } => {}
            ToBroker::Cluster(view) => b.view = view,
            ToBroker::LeaderAndIsr {
                topic,
                partition,
                replicas,
                protocol,
                state,
            } => b.on_leader_and_isr(topic, partition, replicas, protocol, state, Instant::now()),
            ToBroker::AlterPartitionRejected {
                topic,
                partition,
                new_isr,
                partition_epoch,
                ineligible,
            } => {
                let msg = Msg::AlterPartitionRejected {
                    new_isr,
                    partition_epoch,
                    ineligible,
                };
                b.from_controller(topic, partition, msg, Instant::now());
            }
            ToBroker::TopicCreated { request, result } => b.on_topic_created(request, result),
            ToBroker::LeadersElected { request, results } => b.on_leaders_elected(request, results),
            ToBroker::LeaderMoved { .. } => {} // for operators, never sent to a broker
            ToBroker::ShutdownAllowed { broker_epoch } => {
                if !shared.stopping.load(Ordering::SeqCst) {
                    return; // not asked for: nothing to stop
                }
                // The lock stays held to the end: no other step may touch
                // a log after it is flushed and marked clean.
                let id = b.id;
                if let Err(e) = b.shut_down(broker_epoch, Instant::now()) {
                    eprintln!("insync broker {id}: cannot finish the controlled shutdown: {e}");
                    std::process::exit(3);
                }
                eprintln!("insync broker {id}: controlled shutdown complete, logs flushed");
                std::process::exit(0);
            }
        }
    }
    shared.changed.notify_waiters();
}

/// SIGTERM: asks the controller for a controlled shutdown. The process
/// exits (0) once it is allowed and every log is flushed (see `apply`);
/// this returns only when the controller did not answer in time.
pub async fn controlled_shutdown(shared: &Shared, id: BrokerId, wait: Duration) {
    shared.stopping.store(true, Ordering::SeqCst);
    shared.lock().request_shutdown(Instant::now());
    tokio::time::sleep(wait).await;
    eprintln!(
        "insync broker {id}: the controller did not allow the controlled shutdown \
         within {wait:?}; stopping without it (no clean-shutdown marker)"
    );
}

/// Sends followers' fetches to their leaders, one connection per partition,
/// and hands each answer to the core.
async fn fetcher(
    opts: BrokerOptions,
    shared: Arc<Shared>,
    mut fetches: UnboundedReceiver<FollowerFetch>,
) {
    let pool: Arc<Pool> = Arc::default();
    while let Some(f) = fetches.recv().await {
        let (opts, shared, pool) = (opts.clone(), shared.clone(), pool.clone());
        tokio::spawn(async move { follow(&opts, &shared, &pool, f).await });
    }
}

type Pool = Mutex<HashMap<(String, i32), (BrokerId, Connection)>>;

fn paused(shared: &Shared) -> bool {
    shared.fetching_paused.load(Ordering::SeqCst)
}

async fn follow(opts: &BrokerOptions, shared: &Shared, pool: &Pool, f: FollowerFetch) {
    loop {
        while paused(shared) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answer = fetch_once(opts, shared, pool, &f).await;
        if paused(shared) {
            // The answer is dropped unseen, as if the fetch never happened;
            // the same fetch goes again once fetching resumes.
            continue;
        }
        match answer {
            Ok(resp) => {
                let answer = Msg::FetchResponse(resp);
                shared.lock().with_partition(&f.topic, f.partition, |p| {
                    p.step(
                        Input::Message(Node::Broker(f.leader), answer),
                        Instant::now(),
                    )
                });
                shared.changed.notify_waiters();
                return;
            }
            Err(_) => {
                // The leader is unreachable or answered garbage: try again
                // while the core still waits for this very fetch.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let still_wanted =
                    shared
                        .lock()
                        .partition(&f.topic, f.partition)
                        .is_some_and(|p| {
                            p.replica.awaits_fetch_answer(
                                f.leader,
                                f.req.leader_epoch,
                                f.req.incarnation,
                                f.req.fetch_offset,
                            )
                        });
                if !still_wanted {
                    return;
                }
            }
        }
    }
}

async fn fetch_once(
    opts: &BrokerOptions,
    shared: &Shared,
    pool: &Pool,
    f: &FollowerFetch,
) -> Result<crate::core::messages::FetchResponse<crate::wire::batch::Batch>, String> {
    // Fetch names topics by id; the controller's view brings the id with
    // the topic, as it brings the leader's address.
    let topic_id = shared
        .lock()
        .view
        .topics
        .get(&f.topic)
        .map(|t| t.id)
        .ok_or_else(|| format!("no id for topic {}", f.topic))?;
    let key = (f.topic.clone(), f.partition);
    let cached = pool.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    let mut conn = match cached {
        Some((leader, c)) if leader == f.leader => c,
        _ => {
            let route = opts.peer_routes.iter().find(|(b, _)| *b == f.leader);
            let addr = match route {
                Some((_, a)) => a.to_string(),
                None => shared
                    .lock()
                    .view
                    .brokers
                    .iter()
                    .find(|b| b.id == f.leader)
                    .map(|b| format!("{}:{}", b.host, b.port))
                    .ok_or_else(|| format!("no address for broker {}", f.leader))?,
            };
            let addr = tokio::net::lookup_host(&addr)
                .await
                .map_err(|e| format!("{addr}: {e}"))?
                .next()
                .ok_or_else(|| format!("{addr}: no address"))?;
            let name = format!("insync-broker-{}", opts.id);
            Connection::connect(addr, &name, Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let wait_ms = i32::try_from(opts.fetch_wait.as_millis()).unwrap_or(i32::MAX);
    let req = encode_request(opts.id, topic_id, f.partition, &f.req, wait_ms);
    // The leader holds the fetch up to its wait; allow for that and more.
    let r = conn
        .call(
            &req,
            FOLLOWER_FETCH_VERSION,
            opts.fetch_wait + Duration::from_secs(10),
        )
        .await
        .map_err(|e| e.to_string())?;
    let p = r
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("an empty fetch response")?;
    let resp = decode_response(&f.req, p)?;
    pool.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (f.leader, conn));
    Ok(resp)
}

/// A file-size limit (`ulimit -f`) reached sends SIGXFSZ, which kills by
/// default. Handled, the write fails with EFBIG instead, and the broker
/// stops saying which file it could not write, as on a full disk.
async fn survive_file_size_limit() {
    use tokio::signal::unix::{SignalKind, signal};
    const SIGXFSZ: i32 = 25;
    if let Ok(mut s) = signal(SignalKind::from_raw(SIGXFSZ)) {
        while s.recv().await.is_some() {}
    }
}

/// The fault-injection hook: SIGUSR1 pauses this broker's follower
/// fetching, the next one resumes it.
async fn pause_on_sigusr1(id: BrokerId, shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        return;
    };
    while usr1.recv().await.is_some() {
        let now = !shared.fetching_paused.fetch_xor(true, Ordering::SeqCst);
        eprintln!(
            "insync broker {id}: follower fetching {}",
            if now { "paused" } else { "resumed" }
        );
    }
}

/// Expires group members whose sessions ran out and rebalances past
/// their deadline.
async fn group_ticker(groups: Arc<GroupPlane>) {
    let mut every = tokio::time::interval(TICK);
    loop {
        every.tick().await;
        let mut g = groups.lock();
        g.groups.tick(Instant::now());
        g.route();
    }
}

/// Kafka's default `replica.high.watermark.checkpoint.interval.ms`.
const HW_CHECKPOINT_EVERY: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(100);

/// `replica.lag.time.max.ms` and the HW checkpoints.
async fn ticker(opts: BrokerOptions, shared: Arc<Shared>) {
    let mut every = tokio::time::interval(TICK);
    let mut last_checkpoint = Instant::now();
    loop {
        every.tick().await;
        let checkpoint = last_checkpoint.elapsed() >= HW_CHECKPOINT_EVERY;
        let mut due = Vec::new();
        {
            let mut b = shared.lock();
            let now = Instant::now();
            b.each_partition(|p| {
                p.check_lag(now, opts.replica_lag);
                if checkpoint {
                    due.extend(p.checkpoint_due());
                }
            });
        }
        if checkpoint {
            last_checkpoint = Instant::now();
            let written =
                tokio::task::spawn_blocking(move || due.iter().try_for_each(|c| c.write())).await;
            if let Ok(Err(e)) = written {
                eprintln!(
                    "insync broker {}: cannot write a HW checkpoint: {e}",
                    opts.id
                );
                std::process::exit(3);
            }
        }
    }
}
