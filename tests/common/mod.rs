//! Real processes for the client tests: `insync` controllers, brokers and
//! clusters, the Python clients' interpreter, and kcat.

#![allow(dead_code)] // each test file uses its own share of these

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `insync` to completion: its exit code, stdout and stderr.
pub fn insync(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(args)
        .output()
        .expect("insync runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process killed when dropped, with the first line it printed.
pub struct Proc {
    pub child: Child,
    pub first_line: String,
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        Proc::spawn_to(args, Stdio::inherit())
    }

    /// As `spawn`, what it says on stderr going to `stderr`.
    pub fn spawn_to(args: &[&str], stderr: Stdio) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_insync"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("insync starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.is_empty(), "insync {args:?} printed nothing");
        Proc {
            child,
            first_line: line.trim().to_string(),
        }
    }

    /// What follows `prefix` on the first line.
    pub fn after(&self, prefix: &str) -> String {
        self.first_line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {:?}", self.first_line))
            .to_string()
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as an operator's stop, waiting until the process is gone.
    pub fn terminate(&mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(Instant::now() < deadline, "SIGTERM did not stop it");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }
}

/// A controller tracing its decisions into `data/controller.jsonl` (each
/// life starts the file again).
fn spawn_controller(
    data: &std::path::Path,
    listen: &str,
    session_ms: &str,
    extra: &[String],
) -> Proc {
    let dir = data.join("controller");
    std::fs::create_dir_all(data).unwrap();
    let trace = data.join("controller.jsonl");
    let mut args = vec![
        "controller",
        "--listen",
        listen,
        "--session-timeout-ms",
        session_ms,
        "--data-dir",
        dir.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ];
    args.extend(extra.iter().map(String::as_str));
    Proc::spawn(&args)
}

impl Drop for Procs {
    fn drop(&mut self) {
        for b in self.brokers.iter_mut().flatten() {
            b.kill();
        }
        if let Some(c) = &mut self.controller {
            c.kill();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A search that runs for minutes on any machine (RF=5, min ISR 3, two
/// crashes, two records: about 11 minutes on this project's), for tests
/// that stop one on its way; the catalogue's scenarios, and RF=3 with two
/// crashes, can end in a few seconds.
pub const LONG_SEARCH: [&str; 11] = [
    "check",
    "--rf",
    "5",
    "--min-isr",
    "3",
    "--crashes",
    "2",
    "--records",
    "2",
    "--lag-removals",
    "0",
];

/// Timeouts short enough for tests: fencing after 1 s of silence.
pub const SESSION_MS: &str = "1000";

/// Kill tests depend on 1-second heartbeat timeouts: running them one at a
/// time keeps a loaded machine from fencing a broker that is merely slow.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A controller and brokers, each its own process.
pub struct Procs {
    pub controller: Option<Proc>,
    pub controller_addr: String,
    pub brokers: Vec<Option<Proc>>,
    pub broker_args: Vec<String>,
    pub controller_args: Vec<String>,
    /// `broker.session.timeout.ms`, on the controller and every broker.
    pub session_ms: String,
    /// Broker N keeps its partitions in `data/broker-N`.
    pub data: PathBuf,
}

impl Procs {
    /// `n` brokers with `extra` broker flags, auto-created topics at RF = n.
    pub fn start(n: usize, extra: &[&str]) -> Procs {
        Procs::start_with(n, extra, &[])
    }

    /// As `start`, the controller with `controller_extra` flags.
    pub fn start_with(n: usize, extra: &[&str], controller_extra: &[&str]) -> Procs {
        Procs::start_timed(n, extra, controller_extra, SESSION_MS)
    }

    /// As `start_with`, with sessions of `session_ms` instead of
    /// [`SESSION_MS`].
    pub fn start_timed(
        n: usize,
        extra: &[&str],
        controller_extra: &[&str],
        session_ms: &str,
    ) -> Procs {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "procs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&data);
        let controller_args: Vec<String> = controller_extra.iter().map(|s| s.to_string()).collect();
        let controller = spawn_controller(&data, "127.0.0.1:0", session_ms, &controller_args);
        let controller_addr = controller.after("controller: ");
        let mut broker_args: Vec<String> = vec![
            "--controller".into(),
            controller_addr.clone(),
            "--replication-factor".into(),
            n.to_string(),
            "--session-timeout-ms".into(),
            session_ms.into(),
        ];
        broker_args.extend(extra.iter().map(|s| s.to_string()));
        let mut p = Procs {
            controller: Some(controller),
            controller_addr,
            brokers: Vec::new(),
            broker_args,
            controller_args,
            session_ms: session_ms.to_string(),
            data,
        };
        for id in 0..n {
            let b = p.spawn_broker(id);
            p.brokers.push(Some(b));
        }
        p.wait_for(
            |meta| meta.contains(&format!(" {n} brokers:")),
            "every broker registers",
        );
        p
    }

    fn spawn_broker(&self, id: usize) -> Proc {
        self.spawn_broker_to(id, Stdio::inherit())
    }

    fn spawn_broker_to(&self, id: usize, stderr: Stdio) -> Proc {
        let dir = self.data.join(format!("broker-{id}"));
        let dir = dir.to_str().unwrap();
        let id = id.to_string();
        let mut args = vec![
            "broker",
            "--id",
            &id,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir,
        ];
        args.extend(self.broker_args.iter().map(String::as_str));
        Proc::spawn_to(&args, stderr)
    }

    /// The running controller's decisions, one JSON object each.
    pub fn controller_trace(&self) -> Vec<Value> {
        written_jsonl(&self.data.join("controller.jsonl"))
    }

    /// Stops the controller: SIGKILL, or SIGTERM when `clean`.
    pub fn stop_controller(&mut self, clean: bool) {
        let mut c = self.controller.take().expect("running");
        if clean {
            c.terminate();
        } else {
            c.kill();
        }
    }

    /// Starts the controller again on its folder and address.
    pub fn restart_controller(&mut self) {
        assert!(self.controller.is_none(), "the controller is running");
        let c = spawn_controller(
            &self.data,
            &self.controller_addr,
            &self.session_ms,
            &self.controller_args,
        );
        assert_eq!(c.after("controller: "), self.controller_addr);
        self.controller = Some(c);
    }

    /// Stops broker `id`: SIGKILL, or SIGTERM when `clean`.
    pub fn stop(&mut self, id: usize, clean: bool) {
        let mut b = self.brokers[id].take().expect("running");
        if clean {
            b.terminate();
        } else {
            b.kill();
        }
    }

    pub fn restart(&mut self, id: usize) {
        assert!(self.brokers[id].is_none(), "broker {id} is running");
        let b = self.spawn_broker(id);
        self.brokers[id] = Some(b);
    }

    /// As `restart`, what the broker says on stderr going to a file,
    /// whose path this answers.
    pub fn restart_logged(&mut self, id: usize) -> PathBuf {
        assert!(self.brokers[id].is_none(), "broker {id} is running");
        let log = self.data.join(format!("broker-{id}.stderr"));
        let file = std::fs::File::create(&log).unwrap();
        let b = self.spawn_broker_to(id, Stdio::from(file));
        self.brokers[id] = Some(b);
        log
    }

    pub fn kill(&mut self, id: usize) {
        let mut b = self.brokers[id].take().expect("running");
        b.kill();
    }

    pub fn addr(&self, id: usize) -> Option<String> {
        self.brokers[id]
            .as_ref()
            .map(|b| b.after(&format!("broker {id}: ")))
    }

    /// Every running broker's address.
    pub fn bootstrap(&self) -> String {
        let addrs: Vec<String> = (0..self.brokers.len())
            .filter_map(|i| self.addr(i))
            .collect();
        addrs.join(",")
    }

    /// `kcat -L` for `topic` (auto-creating it) as text.
    pub fn metadata(&self, topic: &str) -> String {
        let out = kcat(&["-b", &self.bootstrap(), "-L", "-t", topic, "-m", "5"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `kcat -L` until `ok` holds, for at most 20 s.
    pub fn wait_for(&self, ok: impl Fn(&str) -> bool, what: &str) -> String {
        wait_for_at(&self.bootstrap(), ok, what)
    }
}

/// Polls `kcat -L` on `bootstrap` until `ok` holds, for at most 20 s.
pub fn wait_for_at(bootstrap: &str, ok: impl Fn(&str) -> bool, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = kcat(&["-b", bootstrap, "-L", "-m", "5"]);
        let meta = String::from_utf8_lossy(&out.stdout).into_owned();
        if ok(&meta) {
            return meta;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}:\n{meta}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The leader and ISR size of `topic`'s partition 0 in `kcat -L` output.
pub fn leader_and_isr(meta: &str, topic: &str) -> Option<(usize, usize)> {
    let start = meta.find(&format!("topic \"{topic}\""))?;
    let line = meta[start..].lines().find(|l| l.contains("partition 0,"))?;
    let leader = line
        .split("leader ")
        .nth(1)?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let isr = line
        .split("isrs: ")
        .nth(1)?
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .count();
    Some((leader, isr))
}

pub fn kcat(args: &[&str]) -> Output {
    Command::new("kcat")
        .args(args)
        .output()
        .expect("kcat is installed (scripts/install-clients)")
}

/// Produces one record with kcat; returns kcat's stderr when it failed.
pub fn kcat_produce(bootstrap: &str, topic: &str, acks: &str, value: &str) -> Result<(), String> {
    kcat_produce_all(bootstrap, topic, acks, &[value.to_string()])
}

/// Produces `values` in one kcat run; returns kcat's stderr when any
/// failed.
pub fn kcat_produce_all(
    bootstrap: &str,
    topic: &str,
    acks: &str,
    values: &[String],
) -> Result<(), String> {
    let mut p = Command::new("kcat")
        .args(["-b", bootstrap, "-t", topic, "-p", "0", "-P", "-X"])
        .arg(format!("acks={acks}"))
        .args(["-X", "message.timeout.ms=3000", "-X", "retries=0"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (scripts/install-clients)");
    let input: String = values.iter().map(|v| format!("{v}\n")).collect();
    std::io::Write::write_all(p.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && !err.contains("ERROR") {
        Ok(())
    } else {
        Err(err)
    }
}

/// Every value in `topic` partition 0, with its offset.
pub fn kcat_read(bootstrap: &str, topic: &str) -> Vec<(i64, String)> {
    let out = kcat(&[
        "-b",
        bootstrap,
        "-t",
        topic,
        "-p",
        "0",
        "-C",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%o %s\\n",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (o, v) = l.split_once(' ')?;
            Some((o.parse().ok()?, v.to_string()))
        })
        .collect()
}

pub fn python() -> PathBuf {
    let path = std::env::var_os("INSYNC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/clients-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-clients",
        path.display()
    );
    path
}

pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Runs a client script to its end; returns its JSON report.
pub fn run_script(name: &str, args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(script(name))
        .args(args)
        .output()
        .expect("the client script runs");
    parse_report(name, &out)
}

pub fn parse_report(name: &str, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A fresh folder under the target's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// One Kafka request on a fresh connection to `addr`, and its response:
/// for tests that speak the wire protocol where no client does.
pub fn kafka_call<Q, A>(
    addr: &str,
    key: kafka_protocol::messages::ApiKey,
    version: i16,
    request: &Q,
) -> A
where
    Q: kafka_protocol::protocol::Encodable,
    A: kafka_protocol::protocol::Decodable + kafka_protocol::protocol::HeaderVersion,
{
    use kafka_protocol::messages::{RequestHeader, ResponseHeader};
    use kafka_protocol::protocol::{Decodable, encode_request_header_into_buffer};
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = bytes::BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 7;
    encode_request_header_into_buffer(&mut buf, &h).unwrap();
    request.encode(&mut buf, version).unwrap();
    s.write_all(&insync::wire::frame::framed(&buf)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let mut b = bytes::Bytes::from(body);
    let h = ResponseHeader::decode(&mut b, A::header_version(version)).unwrap();
    assert_eq!(h.correlation_id, 7);
    A::decode(&mut b, version).unwrap()
}

/// The complete lines of a JSON-lines file a running process is still
/// writing: a last line without its newline is not yet written and is left
/// for the next read, so a test polling the file never parses half a line.
pub fn written_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON trace line"))
        .collect()
}
