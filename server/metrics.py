"""Prometheus metrics of the ingest (one registry per application instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ingested = Counter("cccd_ingest_events", "check-in events stored (new)", registry=r)
        self.duplicates = Counter("cccd_ingest_duplicates", "check-in events already stored (absorbed)", registry=r)
        self.refused = Counter("cccd_ingest_refused", "messages refused, by reason", ["reason"], registry=r)
        self.store_errors = Counter("cccd_ingest_store_errors", "failed batch transactions (retried)", registry=r)
        self.lag = Histogram(
            "cccd_ingest_lag_seconds", "from the card read (occurred_at) to the commit",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400), registry=r,
        )
        self.commit_lag = Gauge(
            "cccd_ingest_commit_lag_seconds", "from receipt of a batch's first message to its commit", registry=r
        )
        self.backlog = Gauge("cccd_ingest_backlog", "messages received and not yet stored", registry=r)
        self.oldest_unacknowledged = Gauge(
            "cccd_ingest_oldest_unacknowledged_seconds",
            "age of the oldest message received and not yet acknowledged (0: none)", registry=r,
        )
        self.receipts = Counter("cccd_ingest_receipts", "receipts published to readers", registry=r)
        self.batch_size = Histogram(
            "cccd_ingest_batch_messages", "messages per transaction",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=r,
        )
