"""Produce N records one by one (about 1 ms apart) with confluent-kafka's
idempotent producer at acks=all while the test kills brokers, then read
the partition back. Prints one JSON object: every acknowledged
(offset, value), every error, and every (offset, value) read."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

acked, errors = [], []


def report(err, msg):
    if err is None:
        acked.append((msg.offset(), msg.value().decode()))
    else:
        errors.append(str(err))


p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
              "message.timeout.ms": 60000, "linger.ms": 0,
              "topic.metadata.refresh.interval.ms": 500})
for i in range(count):
    p.produce(topic, value=f"v{i}".encode(), partition=0, callback=report)
    p.poll(0.001)
left = p.flush(90)

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "insync-test",
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "topic.metadata.refresh.interval.ms": 500})
c.assign([TopicPartition(topic, 0, 0)])
read, deadline, quiet_since = [], time.time() + 60, time.time()
while time.time() < deadline and time.time() - quiet_since < 3:
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        continue
    quiet_since = time.time()
    read.append((m.offset(), m.value().decode()))
c.close()
print(json.dumps({"unflushed": left, "acked": acked, "errors": errors, "read": read}))
