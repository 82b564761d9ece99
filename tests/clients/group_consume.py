"""Consume a topic as a member of a consumer group, committing what it read,
until COUNT records arrived or TIMEOUT seconds passed. Usage: LIBRARY
(confluent or kafka-python) BOOTSTRAP TOPIC GROUP COUNT TIMEOUT [SLOW_MS [UNTIL]].
Prints one JSON line per record read ({"value": ...}) as it goes, flushed,
so a test that kills this process still sees what it consumed; then one
JSON summary {"read": [...]}. With SLOW_MS, each record is committed on its
own and followed by a pause. With UNTIL, it stops once that value is read."""
import json
import sys
import time

library, bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
count, timeout = int(sys.argv[5]), float(sys.argv[6])
slow_ms = int(sys.argv[7]) if len(sys.argv) > 7 else 0
until = sys.argv[8] if len(sys.argv) > 8 else None
read = []


def done():
    return len(read) >= count or (until is not None and until in read) or time.time() >= deadline


def seen(value):
    read.append(value)
    print(json.dumps({"value": value}), flush=True)


deadline = time.time() + timeout
if library == "confluent":
    from confluent_kafka import Consumer

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
    c.subscribe([topic])
    while not done():
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        seen(m.value().decode())
        c.commit(message=m, asynchronous=False)
        time.sleep(slow_ms / 1000)
    c.close()
else:
    from kafka import KafkaConsumer

    c = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    while not done():
        batch = c.poll(timeout_ms=500)
        for records in batch.values():
            for r in records:
                seen(r.value.decode())
                c.commit()
    c.close()
print(json.dumps({"read": read}), flush=True)
