"""The gateway process: live WhatsApp sessions, one per connection across every gateway.

`process` runs the loop that takes and renews a lease per enabled connection, `sessions`
keeps the transports alive (reconnects, circuit breaker), `dispatch` turns transport events
into Dramatiq messages. Sends reach the session through the connection's own queue.
"""

HEARTBEAT_PREFIX = "wharf:gateway:heartbeat:"  # + the gateway's id; the value lists the connections it holds
