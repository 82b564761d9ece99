"""Create a topic with confluent-kafka's AdminClient: bootstrap, topic,
partitions, replication factor, then key=value topic configs. Prints one
JSON object: {"created": true} or {"error": "..."}."""
import json
import sys

from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, partitions, rf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
configs = dict(kv.split("=", 1) for kv in sys.argv[5:])
admin = AdminClient({"bootstrap.servers": bootstrap})
futures = admin.create_topics(
    [NewTopic(topic, num_partitions=partitions, replication_factor=rf, config=configs)],
    request_timeout=15,
)
try:
    futures[topic].result(timeout=20)
    print(json.dumps({"created": True}))
except Exception as e:  # the report says why; the test decides
    print(json.dumps({"error": str(e)}))
