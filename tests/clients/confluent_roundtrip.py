"""Produce N records with confluent-kafka (librdkafka) at the given acks,
then read the partition back from the beginning without a consumer group.
Prints one JSON object: the offsets acknowledged and the values read."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, acks, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
idempotent = len(sys.argv) > 5 and sys.argv[5] == "idempotent"

acked, errors = [], []


def report(err, msg):
    if err is None:
        # acks=0: delivered, but no broker said where (librdkafka: no offset).
        acked.append(-1 if msg.offset() is None or msg.offset() < 0 else msg.offset())
    else:
        errors.append(str(err))


conf = {"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5}
if idempotent:
    conf["enable.idempotence"] = True
p = Producer(conf)
for i in range(count):
    p.produce(topic, value=f"{acks}-{i}".encode(), callback=report)
left = p.flush(30)

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "insync-test",
              "enable.auto.commit": False, "auto.offset.reset": "earliest"})
c.assign([TopicPartition(topic, 0, 0)])
values, deadline = [], time.time() + 30
while time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        if len(values) >= count:
            break
        continue
    if m.error():
        errors.append(str(m.error()))
        continue
    values.append((m.offset(), m.value().decode()))
c.close()
print(json.dumps({"unflushed": left, "acked": sorted(acked), "errors": errors, "read": values}))
