"""What the controller's durable metadata log costs: topics created one at
a time, each answered only once its records are fsynced, against a
controller that keeps its metadata in memory.

    cargo build --release && scripts/install-clients
    target/clients-venv/bin/python scripts/bench-metadata.py [--topics N] [--runs R]

Each run starts a controller (with --data-dir, or without) and three
brokers (logs in memory, so only the controller's writes differ), creates
N topics of one partition at RF=3 through confluent-kafka's AdminClient,
one request at a time, and times each creation. The two kinds of run
alternate. Prints one JSON object: per-topic medians and p99s, and the
ratio of the durable log's median to the in-memory one."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSYNC = os.environ.get("INSYNC_BIN", os.path.join(ROOT, "target", "release", "insync"))


def first_line(p):
    return p.stdout.readline().strip()


def run(topics, durable):
    with tempfile.TemporaryDirectory(prefix="insync-meta-") as d:
        args = [INSYNC, "controller", "--listen", "127.0.0.1:0"]
        if durable:
            args += ["--data-dir", os.path.join(d, "controller")]
        ctl = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        addr = first_line(ctl).split()[-1]
        brokers = []
        try:
            for i in range(3):
                b = subprocess.Popen([INSYNC, "broker", "--id", str(i), "--listen", "127.0.0.1:0",
                                      "--controller", addr, "--replication-factor", "3"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                brokers.append((b, first_line(b).split()[-1]))
            admin = AdminClient({"bootstrap.servers": ",".join(a for _, a in brokers)})
            # Until all three brokers are registered, RF=3 is refused.
            deadline = time.time() + 20
            while len(admin.list_topics(timeout=5).brokers) < 3:
                assert time.time() < deadline, "the brokers did not register"
                time.sleep(0.1)
            times = []
            for i in range(topics):
                t = time.perf_counter()
                f = admin.create_topics([NewTopic(f"t{i}", num_partitions=1, replication_factor=3)])
                f[f"t{i}"].result(timeout=20)
                times.append((time.perf_counter() - t) * 1000)
            del admin  # closed before the brokers go, so it does not log their departure
            return times
        finally:
            for b, _ in brokers:
                b.terminate()
                b.wait()
            ctl.terminate()
            ctl.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ms = {"in_memory": [], "durable_log": []}
    for _ in range(a.runs):
        for durable in (False, True):
            ms["durable_log" if durable else "in_memory"].extend(run(a.topics, durable))
    out = {"topics_per_run": a.topics, "runs": a.runs, "client": "confluent-kafka AdminClient",
           "create_topic_ms": {k: {"median": round(statistics.median(v), 3),
                                   "p99": round(sorted(v)[int(len(v) * 0.99) - 1], 3)}
                               for k, v in ms.items()}}
    out["median_ratio_durable_to_memory"] = round(
        statistics.median(ms["durable_log"]) / statistics.median(ms["in_memory"]), 3)
    print(json.dumps(out, indent=2))


main()
