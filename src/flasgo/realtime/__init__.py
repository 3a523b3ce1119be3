"""Real time: rooms of WebSocket connections and messages published to them (`Channels`).

`channels.py` owns the rooms, the per-connection send queues and the in-memory broker;
`redis.py` the Redis pub/sub broker that reaches every worker (the ``redis`` extra).
"""

from flasgo.realtime.channels import Broker, Channels, ChannelStats, MemoryBroker

__all__ = ["Broker", "ChannelStats", "Channels", "MemoryBroker"]
