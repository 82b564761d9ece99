"""Produce throughput and latency with confluent-kafka (librdkafka).

Usage: bench_produce.py BOOTSTRAP TOPIC ACKS RECORDS [RATE]

Sends RECORDS records of 100 bytes to partition 0, as fast as the client
can (RATE 0) or paced at RATE records per second, and times each record
from produce() to its delivery report. Prints one JSON object."""
import gc
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, acks, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0

latencies, failed = [], [0]


def report(err, msg, sent):
    if err is not None:
        failed[0] += 1
    else:
        latencies.append(time.perf_counter() - sent)


p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 1,
              "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000,
              "queue.buffering.max.kbytes": 1048576})
# Warm up: metadata, connections, topic creation.
p.produce(topic, b"w" * 100, partition=0)
p.flush(30)
value = b"x" * 100
# The collector would pause the client for milliseconds while hundreds of
# thousands of delivery callbacks are pending: client time, not the broker's.
gc.disable()
start = time.perf_counter()
for i in range(count):
    if rate > 0:
        # Open-loop pacing that waits inside poll(), not in a busy loop: a
        # spinning client would take a core from the brokers it measures.
        # poll() wakes for each delivery report, so reports are still
        # timed as they arrive; records go out in bursts of at most 1 ms.
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            p.poll(max(0.001, due - now))
    sent = time.perf_counter()
    while True:
        try:
            p.produce(topic, value, partition=0,
                      on_delivery=lambda err, msg, sent=sent: report(err, msg, sent))
            break
        except BufferError:
            p.poll(0.001)
    # Paced, every delivery report is taken at once, so the time measured
    # is the broker's, not a report waiting in the client's queue.
    if rate > 0 or i % 1000 == 0:
        p.poll(0)
p.flush(120)
seconds = time.perf_counter() - start
latencies.sort()


def pct(q):
    return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3) if latencies else None


print(json.dumps({"acks": acks, "records": count, "failed": failed[0], "seconds": round(seconds, 3),
                  "records_per_s": round(count / seconds), "p50_ms": pct(0.50), "p99_ms": pct(0.99)}))
