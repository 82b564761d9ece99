"""Ask for leader elections with confluent-kafka's AdminClient, as
kafka-leader-election.sh does. Arguments: bootstrap, PREFERRED or UNCLEAN,
then topic:partition pairs (none: every partition). Prints one JSON
object: each partition's error name, or null where the election happened."""
import json
import sys

from confluent_kafka import ElectionType, TopicPartition
from confluent_kafka.admin import AdminClient

bootstrap, kind = sys.argv[1], sys.argv[2]
partitions = None
if len(sys.argv) > 3:
    partitions = []
    for arg in sys.argv[3:]:
        topic, p = arg.rsplit(":", 1)
        partitions.append(TopicPartition(topic, int(p)))

admin = AdminClient({"bootstrap.servers": bootstrap})
try:
    results = admin.elect_leaders(ElectionType[kind], partitions).result(timeout=30)
except Exception as e:  # the request as a whole failed
    print(json.dumps({"error": str(e)}))
    sys.exit(0)
out = {}
for tp, err in results.items():
    if err is not None and not hasattr(err, "name"):
        err = err.args[0]  # a KafkaException around the KafkaError
    out[f"{tp.topic}:{tp.partition}"] = None if err is None else err.name()
print(json.dumps({"results": out}))
