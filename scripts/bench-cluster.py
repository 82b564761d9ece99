"""Produce throughput and latency of a running insync cluster, in one run.

    cargo build --release && scripts/install-clients
    target/clients-venv/bin/python scripts/bench-cluster.py [--records N] [--runs R]

Each repetition starts a fresh 3-broker cluster (RF=3) and 1-broker cluster
(RF=1) from target/release/insync on empty data directories. Throughput: `kcat -P -l` sends N records of 100
bytes to partition 0, at acks 0, 1 and all on RF=3 and at acks=all on RF=1,
R repetitions (default 7), every setting once per repetition, the order
reversed every other time; each figure with its median, extremes and range
as a share of the median. The RF=3/RF=1 ratio is taken within each
repetition (the two run back to back), so drift of the machine cancels.
Latency: confluent-kafka (a Python client, slower than kcat) first sends as
fast as it can to find its own maximum, then sends paced at half of that
and times each record from produce() to its delivery report, three times
per setting. Also the machine's memory copy bandwidth before and after.
Prints one JSON object."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# INSYNC_BIN runs another build (a before/after comparison in one session).
INSYNC = os.environ.get("INSYNC_BIN", os.path.join(ROOT, "target", "release", "insync"))
LATENCY = os.path.join(ROOT, "tests", "clients", "bench_produce.py")


def start(brokers, data_dir):
    # With a data directory, as a broker is run: the logs live in segment
    # files (the page cache), and each broker keeps only batch headers.
    p = subprocess.Popen([INSYNC, "cluster", "--brokers", str(brokers), "--base-port", "0",
                          "--data-dir", data_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    assert line.startswith("bootstrap: "), line
    return p, line[len("bootstrap: "):]


def peak_rss_mb(proc):
    """The cluster process's peak resident memory (VmHWM), all brokers and
    the controller together."""
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return None


def end_offset(bootstrap, topic):
    out = subprocess.run(["kcat", "-b", bootstrap, "-Q", "-t", f"{topic}:0:-1"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split("offset")[-1])


def kcat_seconds(bootstrap, topic, acks, path, records, verify=True):
    before = end_offset(bootstrap, topic) if verify and acks != "0" else None
    t = time.perf_counter()
    subprocess.run(["kcat", "-b", bootstrap, "-t", topic, "-p", "0", "-P", "-l",
                    "-X", f"acks={acks}", "-X", "linger.ms=5", path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    # A run counts only if every record landed (acks=0 cannot be checked
    # without waiting: no answer says when it is in).
    # The end offset a consumer sees is the HW: with acks=1 replication may
    # still be catching up when kcat exits, so wait a little for it.
    if before is not None:
        deadline = time.time() + 10
        while (after := end_offset(bootstrap, topic)) - before < records and time.time() < deadline:
            time.sleep(0.05)
        assert after - before == records, f"{topic}: {after - before} of {records} records landed"
    return seconds


def copy_gbps():
    """The machine's large-copy memory bandwidth now, GB/s (median of 5
    copies of 256 MB). On the VM this project is measured on it moves
    between about 1 and 6 GB/s from hour to hour, and the brokers' work
    (page-cache writes, socket copies) moves with it: printed so a reader
    can tell a slower build from a slower machine."""
    src = bytes(256 << 20)
    dst = bytearray(len(src))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        dst[:] = src
        times.append(time.perf_counter() - t)
    return round(len(src) / statistics.median(times) / 1e9, 2)


def spread(xs):
    """Median, extremes and the range as a share of the median."""
    m = statistics.median(xs)

    def r(x):
        return round(x, 3) if m < 100 else round(x)

    return {"median": r(m), "min": r(min(xs)), "max": r(max(xs)),
            "range_pct_of_median": round(100 * (max(xs) - min(xs)) / m, 1)}


class Clusters:
    """A fresh RF=3 and RF=1 cluster, each on an empty data directory, and
    a topic per setting created outside the timing."""

    def __init__(self, root, warmup_path):
        self.dir = tempfile.mkdtemp(prefix="run-", dir=root)
        self.rf3, b3 = start(3, os.path.join(self.dir, "rf3"))
        self.rf1, b1 = start(1, os.path.join(self.dir, "rf1"))
        self.cases = [("rf3_acks0", b3, "0"), ("rf3_acks1", b3, "1"), ("rf3_acksall", b3, "all"),
                      ("rf1_acksall", b1, "all")]
        for name, b, _ in self.cases:
            kcat_seconds(b, name, "1", warmup_path, 1000, verify=False)

    def stop(self):
        rss = {"rf3_cluster": peak_rss_mb(self.rf3), "rf1_cluster": peak_rss_mb(self.rf1)}
        for p in (self.rf3, self.rf1):
            p.terminate()
            p.wait()
        # Deleted before the kernel writes them back: the next repetition
        # starts without a backlog of dirty pages to throttle it.
        shutil.rmtree(self.dir, ignore_errors=True)
        return rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--latency-seconds", type=float, default=3.0)
    ap.add_argument("--latency-runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for i in range(a.records):
            f.write("%099d\n" % i)
        path = f.name
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for i in range(1000):
            f.write("%099d\n" % i)
        warmup = f.name
    data = tempfile.TemporaryDirectory(prefix="insync-bench-")
    out = {"records": a.records, "record_bytes": 100, "runs": a.runs, "client": "kcat -P -l",
           "machine_cores": os.cpu_count(), "throughput": {}, "latency_at_half_load": {},
           "peak_rss_mb": {}, "memory_copy_gbps": {"before": copy_gbps()}}
    try:
        runs = {}
        for r in range(a.runs):
            # Fresh clusters each repetition: logs that pile up gigabytes
            # run into the kernel's dirty-page throttling, which made later
            # repetitions slower than earlier ones.
            c = Clusters(data.name, warmup)
            # Every setting once, the order turned around each time, so
            # drift of the shared machine falls on all alike; RF=3 and RF=1
            # at acks=all run back to back, and their ratio is taken within
            # each repetition.
            order = c.cases if r % 2 == 0 else list(reversed(c.cases))
            for name, b, acks in order:
                s = kcat_seconds(b, name, acks, path, a.records)
                runs.setdefault(name, []).append(a.records / s)
            for k, v in c.stop().items():
                out["peak_rss_mb"][k] = max(out["peak_rss_mb"].get(k) or 0, v or 0)
        out["throughput"] = {k: {**spread(v), "runs": [round(x) for x in v]} for k, v in runs.items()}
        med = {k: statistics.median(v) for k, v in runs.items()}
        out["ratio_to_acks0"] = {k: round(med[k] / med["rf3_acks0"], 3)
                                 for k in ("rf3_acks1", "rf3_acksall")}
        paired = [x / y for x, y in zip(runs["rf3_acksall"], runs["rf1_acksall"])]
        out["ratio_rf3_acksall_to_rf1_acksall"] = {**spread(paired),
                                                   "runs": [round(x, 3) for x in paired]}
        c = Clusters(data.name, warmup)
        try:
            for name, b, acks in c.cases[:3]:
                p50s, p99s, rates = [], [], []
                for _ in range(a.latency_runs):
                    top = subprocess.run([sys.executable, LATENCY, b, name + "-max", acks, "200000"],
                                         check=True, capture_output=True, text=True)
                    rate = json.loads(top.stdout)["records_per_s"] / 2
                    n = int(rate * a.latency_seconds)
                    res = subprocess.run([sys.executable, LATENCY, b, name + "-lat", acks, str(n),
                                          str(rate)], check=True, capture_output=True, text=True)
                    r = json.loads(res.stdout)
                    assert r["failed"] == 0, r
                    p50s.append(r["p50_ms"])
                    p99s.append(r["p99_ms"])
                    rates.append(r["records_per_s"])
                out["latency_at_half_load"][name] = {
                    "paced_records_per_s": round(statistics.median(rates)),
                    "p50_ms": spread(p50s), "p99_ms": spread(p99s), "p99_runs_ms": p99s}
        finally:
            c.stop()
        out["memory_copy_gbps"]["after"] = copy_gbps()
        print(json.dumps(out, indent=2))
    finally:
        os.unlink(path)
        os.unlink(warmup)
        data.cleanup()


main()
