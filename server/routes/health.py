"""``/api/v1/health``: the one answer without a token (for load balancers and monitoring).

``degraded`` while batches cannot be stored (the database is unavailable: retried with
backoff), for ``[ingest] quarantine_alert_seconds`` after a message was quarantined, and
while the ingest is not connected to the broker; ``reasons`` say which, and
``oldest_unacknowledged_seconds`` how long the oldest waiting message has waited.

When the ingest runs in processes of its own (``serve --role api`` beside ``--role
ingest``), the API process asks each ingest process for this same answer over HTTP
(``[process] ingest_urls``) and merges them: an ingest process that does not answer
within ``ingest_timeout_seconds`` (stopped, killed, hung) makes the API's health
``degraded`` with ``ingest_unreachable``, so a load balancer watching the API still sees
a stuck ingest.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from server.deps import Settings, get_ingestor
from server.ingest import Ingestor
from server.schemas import Health, HealthReason, HealthStatus
from server.settings import ServerSettings

router = APIRouter(tags=["health"])


@dataclass(frozen=True)
class RemoteIngest:
    """The ingest processes an API process reports on (``[process] ingest_urls``)."""

    urls: list[str]
    timeout: float

    def ask(self, url: str) -> Health | str:
        """That process's health, or why it gave none."""
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=self.timeout) as answer:
                return Health.model_validate_json(answer.read())
        except urllib.error.HTTPError as exc:  # before OSError: it is one
            return f"HTTP {exc.code}"
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except urllib.error.URLError as exc:  # refused, unresolvable, a connect timeout
            return str(exc.reason)
        except OSError as exc:
            return str(exc)
        except ValidationError:
            return "its answer is not a health report"

    def health(self) -> Health:
        """Every ingest process's health in one answer: degraded when any is, or is unreachable."""
        reasons: list[HealthReason] = []
        connected = subscribed = True
        oldest: float | None = None
        quarantined: Counter[str] = Counter()
        counters: Counter[str] = Counter()
        for url in self.urls:
            answer = self.ask(url)
            if isinstance(answer, str):
                connected = subscribed = False
                reasons.append(HealthReason(code="ingest_unreachable",
                                            detail=f"the ingest process at {url} does not answer ({answer})"))
                continue
            where = f" [{url}]" if len(self.urls) > 1 else ""
            reasons += [r.model_copy(update={"detail": r.detail + where}) for r in answer.reasons]
            connected &= answer.mqtt_connected
            subscribed &= answer.mqtt_subscribed
            if answer.oldest_unacknowledged_seconds is not None:
                oldest = max(oldest or 0.0, answer.oldest_unacknowledged_seconds)
            quarantined.update(answer.quarantined)
            counters.update(answer.ingest)
        return Health(status=HealthStatus.degraded if reasons else HealthStatus.ok, reasons=reasons,
                      mqtt_connected=connected, mqtt_subscribed=subscribed, oldest_unacknowledged_seconds=oldest,
                      quarantined=dict(quarantined), ingest=dict(counters))


def get_remote_ingest(request: Request) -> RemoteIngest | None:
    remote: RemoteIngest | None = getattr(request.app.state, "remote_ingest", None)
    return remote


def local_health(ingestor: Ingestor, settings: ServerSettings) -> Health:
    """The health of the ingest running in this process."""
    now = time.time()
    state = ingestor.health
    reasons = []
    failing = state.store_failing_since
    if failing is not None:
        reasons.append(HealthReason(code="store_retrying", detail=f"storing fails ({state.last_store_error}); retried",
                                    since_seconds=round(now - failing, 3)))
    last = state.last_quarantine_at
    if last is not None and now - last < settings.ingest.quarantine_alert_seconds:
        total = sum(state.quarantined_by_reason.values())
        reasons.append(HealthReason(code="quarantine_rising", detail=f"{total} message(s) quarantined since start",
                                    since_seconds=round(now - last, 3)))
    if not ingestor.connected:
        reasons.append(HealthReason(code="broker_disconnected", detail="the ingest is not connected to the broker"))
    age = ingestor.oldest_unacknowledged_age()
    return Health(
        status=HealthStatus.degraded if reasons else HealthStatus.ok,
        reasons=reasons,
        mqtt_connected=ingestor.connected,
        mqtt_subscribed=ingestor.subscribed,
        oldest_unacknowledged_seconds=round(age, 3) if age is not None else None,
        quarantined=dict(state.quarantined_by_reason),
        ingest=dict(ingestor.counters),
    )


@router.get("/health")
def health(ingestor: Annotated[Ingestor | None, Depends(get_ingestor)],
           remote: Annotated[RemoteIngest | None, Depends(get_remote_ingest)], settings: Settings) -> Health:
    if ingestor is not None:
        return local_health(ingestor, settings)
    if remote is not None:
        return remote.health()
    return Health(status=HealthStatus.ok, mqtt_connected=False, mqtt_subscribed=False, ingest={})
