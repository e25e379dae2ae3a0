"""Every Prometheus metric the services expose, defined once (prefix crm_, base units, counters
ending in _total, no ids as label values)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_REQUESTS = Counter(
    "crm_grpc_server_requests_total", "gRPC calls served, by final status code.", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram(
    "crm_grpc_server_handling_seconds",
    "Time to serve a gRPC call.",
    ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_CLIENT_REQUESTS = Counter(
    "crm_grpc_client_requests_total", "gRPC calls made to peers, by status code.", ["target", "method", "code"]
)
OUTBOX_PUBLISHED = Counter("crm_outbox_events_published_total", "Outbox events acknowledged by JetStream.", ["service"])
OUTBOX_FAILURES = Counter(
    "crm_outbox_publish_failures_total", "Relay batches that failed to publish (NATS unreachable...).", ["service"]
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row.", ["service"]
)
EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total",
    "Events handled by a consumer, by outcome (processed, duplicate, failed, dead_lettered).",
    ["service", "consumer", "outcome"],
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag", "Messages in the stream not yet delivered to the consumer.", ["service", "consumer"]
)
EVENTS_REFUSED = Counter(
    "crm_events_refused_total",
    "Messages a consumer terminated unread: their subject is not an event of the stream's own service.",
    ["service", "consumer"],
)
DEAD_LETTERS = Counter(
    "crm_dead_letter_events_total", "Events moved to the dead-letter table.", ["service", "consumer"]
)
DEPENDENCY_UP = Gauge(
    "crm_dependency_up",
    "1 while a dependency of the service answers (database: a query; nats: a round trip), else 0.",
    ["service", "dependency"],
)
