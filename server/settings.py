"""The central server's settings (``cccd-server``): one TOML file, overridable by ``CCCD_SERVER_*``."""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections import Counter
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from contract.settings import ConfigError, MqttSettings, Section, TomlSettings
from contract.topics import is_reader_id
from server.validation import DEFAULT_EARLIEST_EVENT, DEFAULT_FUTURE_SKEW, DEFAULT_MAX_EVENT_BYTES

#: Below this estimate (Shannon entropy of the token's characters × its length) a token is guessable.
MIN_TOKEN_BITS = 48
MIN_TOKEN_LENGTH = 16


def token_problem(token: str) -> str | None:
    """Why a token is too weak to guard the API, or None."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"tokens must be at least {MIN_TOKEN_LENGTH} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        return "tokens must not hold spaces, newlines or other control characters"
    counts = Counter(token)
    bits = -sum(n * math.log2(n / len(token)) for n in counts.values())
    if bits < MIN_TOKEN_BITS or len(counts) < 8:
        return (f"a token is too predictable (about {bits:.0f} bits, {MIN_TOKEN_BITS} needed): "
                "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return None


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    read_tokens: list[SecretStr] = Field(min_length=1, description="bearer tokens of viewers")
    admin_tokens: list[SecretStr] = Field(default_factory=list, description="bearer tokens of administrators")
    max_failed_auth: int = Field(10, ge=1, le=1000, description="wrong tokens per client within a minute before 429")
    lockout_seconds: int = Field(60, ge=1, le=86_400, description="how long a client gets 429 after that")
    cache_seconds: float = Field(
        0.0, ge=0, le=300, description="keep coverage, readers, fleet and dashboard answers this long (0: never); "
                                       "see server/read_cache.py"
    )

    @field_validator("read_tokens", "admin_tokens")
    @classmethod
    def _strong_enough(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        for token in tokens:
            problem = token_problem(token.get_secret_value())
            if problem:
                raise ValueError(problem)
        return tokens

    @model_validator(mode="after")
    def _read_is_not_admin(self) -> ApiSettings:
        read = {t.get_secret_value() for t in self.read_tokens}
        if read & {t.get_secret_value() for t in self.admin_tokens}:
            raise ValueError("a token cannot be both a read token and an admin token")
        return self


class RegistrySettings(Section):
    """Which readers may report, and when a facility counts as covered."""

    auto_register: bool = Field(
        False,
        description="register unknown facilities/readers on their first message: for demos and tests only",
    )
    coverage_days: int = Field(
        7, ge=1, le=365, description="a facility is covered when a reader was heard within N days"
    )
    offline_after_seconds: int = Field(
        900, ge=10, description="a reader is offline when nothing (check-in, heartbeat, status) came for this long"
    )


#: Session expiry of the server's MQTT session: a sole server's broker keeps a week of events
#: for it; a shared-subscription member's is short (see ServerMqttSettings).
SOLE_SESSION_EXPIRY = 7 * 24 * 3600
SHARED_SESSION_EXPIRY = 300


def member_username(username: str, member: int) -> str:
    """The broker account of ingest member ``member`` (1, 2, ...): ``cccd-server``, ``cccd-server-2``...
    The broker binds the client id to the username, so each member needs its own account, or
    they take each other's session over."""
    return username if member == 1 else f"{username}-{member}"


class ServerMqttSettings(MqttSettings):
    """The server's broker link, and its place in a shared subscription.

    With ``shared_group`` set, the ``members`` ingest processes subscribe to the check-ins
    and heartbeats as ``$share/<group>/cccd/v1/+/+/<kind>``: the broker hands each message
    to one of them. Statuses stay a plain subscription of every member: they are few, and
    a reader's ``online``/``offline`` must be written in order, which two members committing
    a share each would not keep. Each member runs with the same file and
    its own ``member`` number (``CCCD_SERVER_MQTT__MEMBER=2``) and connects as
    :func:`member_username`; ``cccd-server reader add`` writes an account and ACL block for
    every member. mosquitto 2.0 keeps giving a dead member's persistent session its share
    of the messages until the session expires, then drops them (measured): a member's
    session is therefore short (``session_expiry_seconds``, 300 s by default when shared),
    and the desks' receipts make the rest good (an event without a receipt is sent again,
    to a member that is alive); receipts must stay on.
    """

    shared_group: str = Field("", max_length=64,
                              description="$share group of the ingest processes; empty: a sole server")
    members: int = Field(1, ge=1, le=64, description="ingest processes in the shared group")
    member: int = Field(1, ge=1, le=64, description="this process's number in the group (1 .. members)")
    session_expiry_seconds: int | None = Field(
        None, ge=5, le=SOLE_SESSION_EXPIRY * 4,
        description=f"how long the broker keeps the server's session while it is away; default "
                    f"{SOLE_SESSION_EXPIRY} s, {SHARED_SESSION_EXPIRY} s for a shared-subscription member")

    @field_validator("shared_group")
    @classmethod
    def _group_name(cls, value: str) -> str:
        if value and not is_reader_id(value):  # one topic level: no "/", "+", "#" or spaces
            raise ValueError("a shared group is one topic level: letters, digits, _ -")
        return value

    @model_validator(mode="after")
    def _member_in_group(self) -> ServerMqttSettings:
        if self.member > self.members:
            raise ValueError(f"member {self.member} of {self.members}: set members to the group's size")
        if self.members > 1 and not self.shared_group:
            raise ValueError("several members need a shared_group")
        return self

    @property
    def session_expiry(self) -> int:
        if self.session_expiry_seconds is not None:
            return self.session_expiry_seconds
        return SHARED_SESSION_EXPIRY if self.shared_group else SOLE_SESSION_EXPIRY

    def member_link(self) -> MqttSettings:
        """The link this member opens: its own account and client id."""
        name = self.username or self.client_id or "cccd-server"
        return MqttSettings(**{**{k: getattr(self, k) for k in MqttSettings.model_fields},
                               "username": member_username(self.username, self.member) if self.username else None,
                               "client_id": member_username(self.client_id or name, self.member)})


class BrokerFilesSettings(Section):
    """The mosquitto files that ``cccd-server reader add`` regenerates from the registry."""

    password_file: Path | None = Field(None, description="mosquitto password_file to write")
    acl_file: Path | None = Field(None, description="mosquitto acl_file to write")


class DeviceCaSettings(Section):
    """The device CA that issues readers' TLS client certificates (``cccd-server ca init``, server/ca.py)."""

    directory: Path = Field(Path("/etc/cccd-server/ca"), description="holds ca.key (0600) and ca.crt")
    broker_ca_file: Path | None = Field(None, description="the copy of ca.crt the broker's certificate listener "
                                                          "trusts (e.g. /etc/mosquitto/cccd/device-ca.crt)")
    crl_file: Path | None = Field(None, description="the revocation list the broker's crlfile names "
                                                    "(e.g. /etc/mosquitto/cccd/crl.pem)")
    cert_days: int = Field(397, ge=1, le=825, description="how long a reader's certificate lasts")


class IngestSettings(Section):
    batch_size: int = Field(2000, ge=1, le=50_000, description="most events per transaction")
    receive_maximum: int = Field(
        10_000, ge=1, le=65_535, description="unacknowledged QoS 1 messages the broker may send the server at once"
    )
    linger_ms: int = Field(50, ge=0, le=2000, description="how long a batch may wait to fill before its commit")
    earliest_event: date = Field(
        DEFAULT_EARLIEST_EVENT, description="events dated before this day (UTC) are quarantined: the product's epoch"
    )
    max_future_skew_seconds: int = Field(
        int(DEFAULT_FUTURE_SKEW.total_seconds()), ge=0, le=7 * 24 * 3600,
        description="events dated more than this after the server's clock are quarantined",
    )
    max_payload_bytes: int = Field(
        DEFAULT_MAX_EVENT_BYTES, ge=1024, le=1024 * 1024, description="larger check-in payloads are quarantined"
    )
    receipts: bool = Field(True, description="publish receipts of committed events to each reader")
    quarantine_keep_days: int = Field(
        90, ge=1, le=3660, description="quarantine records older than this are deleted (their counts stay)"
    )
    quarantine_alert_seconds: int = Field(
        900, ge=1, description="health says degraded for this long after a message was quarantined"
    )


class ServeRole(StrEnum):
    """What one ``cccd-server serve`` process runs."""

    all = "all"  # API, dashboard and MQTT ingest in one process (a small site, the demo)
    api = "api"  # API and dashboard; the ingest runs in its own process(es)
    ingest = "ingest"  # the MQTT ingest, with only its health and metrics over HTTP


class ProcessSettings(Section):
    """Which parts of the server this process runs: the API apart from the ingest, so a slow
    query never holds the ingest's GIL and the ingest's load never delays an answer."""

    role: ServeRole = Field(ServeRole.all, description="all | api | ingest (`cccd-server serve --role`)")
    ingest_host: str = Field("127.0.0.1", description="ingest role: where it serves /api/v1/health and /metrics")
    ingest_port: int = Field(8081, ge=1, le=65535, description="ingest role: the port of its health and metrics")
    ingest_urls: list[str] = Field(
        default_factory=list,
        description="api role: the ingest processes whose health /api/v1/health reports "
                    "(default http://127.0.0.1:<ingest_port>)",
    )
    ingest_timeout_seconds: float = Field(
        1.0, gt=0, le=30, description="api role: an ingest process that does not answer in this time is degraded"
    )

    @property
    def ingest_health_urls(self) -> list[str]:
        return [u.rstrip("/") for u in self.ingest_urls] or [f"http://127.0.0.1:{self.ingest_port}"]


class ServerSettings(TomlSettings):
    """Everything the central server needs."""

    model_config = SettingsConfigDict(env_prefix="CCCD_SERVER_", extra="forbid", env_nested_delimiter="__")

    database_url: str = Field("sqlite:////var/lib/cccd-server/cccd.sqlite", description="SQLAlchemy URL")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="the day boundary for daily counts")
    mqtt: ServerMqttSettings = ServerMqttSettings(client_id="cccd-server")
    api: ApiSettings
    registry: RegistrySettings = RegistrySettings()
    broker_files: BrokerFilesSettings = BrokerFilesSettings()
    device_ca: DeviceCaSettings = DeviceCaSettings()
    ingest: IngestSettings = IngestSettings()
    process: ProcessSettings = ProcessSettings()
    ingest_batch_size: int | None = Field(None, ge=1, le=50_000, description="deprecated alias of ingest.batch_size")

    @model_validator(mode="after")
    def _shared_needs_receipts(self) -> ServerSettings:
        if self.mqtt.shared_group and not self.ingest.receipts:
            raise ValueError("a shared subscription needs [ingest] receipts = true: a dead member's queued "
                             "events come back only when the desks send again what no receipt confirmed")
        return self

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Self:
        """Read the settings; a file holding secrets (tokens, the broker password) must be private (0600)."""
        settings = super().load(path, **overrides)
        if path is not None:
            _check_private(Path(path))
        return settings

    @property
    def batch_size(self) -> int:
        return self.ingest_batch_size or self.ingest.batch_size


def _check_private(path: Path) -> None:
    """Refuse a group- or world-accessible settings file that holds a secret."""
    mode = path.stat().st_mode
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return  # already read by the settings loader: cannot happen
    api, mqtt = data.get("api", {}), data.get("mqtt", {})
    if api.get("read_tokens") or api.get("admin_tokens") or mqtt.get("password"):
        raise ConfigError(f"{path} holds tokens or passwords and is readable by others; run: chmod 600 {path}")
