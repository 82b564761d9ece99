"""Produce N records with kafka-python at the given acks, then read the
partition back from the beginning without a consumer group. Prints one
JSON object: the offsets acknowledged and the values read."""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, acks, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
acks_arg = "all" if acks == "all" else int(acks)

acked, errors = [], []
p = KafkaProducer(bootstrap_servers=bootstrap, acks=acks_arg, linger_ms=5)
futures = [p.send(topic, f"{acks}-{i}".encode(), partition=0) for i in range(count)]
p.flush(30)
for f in futures:
    try:
        acked.append(f.get(timeout=30).offset)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        errors.append(repr(e))
p.close()

c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                  enable_auto_commit=False, auto_offset_reset="earliest")
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek_to_beginning(tp)
values, deadline = [], time.time() + 30
while time.time() < deadline and len(values) < count:
    for recs in c.poll(timeout_ms=500).values():
        values.extend((r.offset, r.value.decode()) for r in recs)
c.close()
print(json.dumps({"unflushed": 0, "acked": sorted(acked), "errors": errors, "read": values}))
