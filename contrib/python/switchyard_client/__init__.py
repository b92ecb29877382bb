"""switchyard_client: submit jobs to a switchyard worker pool over Kafka and
wait for their results, from a thread or from asyncio.

    from switchyard_client import Client, AsyncClient
    c = Client("127.0.0.1:9092", input_topic="switchyard.jobs",
               output_topic="switchyard.results")
    result = c.run({"template": "generate_room",
                    "vars": {"room": "kitchen", "style": "japandi"}}, timeout=120)
    c.close()

Needs confluent-kafka (Debian: python3-confluent-kafka). See README.md,
"Python client for bot developers".
"""
from .client import AsyncClient, Client

__all__ = ["Client", "AsyncClient"]
__version__ = "0.1.0"
