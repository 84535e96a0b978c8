"""The desk agent's settings (``cccd-edge``): one TOML file, overridable by ``CCCD_EDGE_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from edge.events import FacilityCode, ReaderId
from edge.settings_base import MqttSettings, Section, TomlSettings, read_secret_file


class OutboxSettings(Section):
    """The durable queue of events waiting for the broker's acknowledgement."""

    max_inflight: int = Field(20, ge=1, le=100, description="unacknowledged publishes at once")
    alarm_depth: int = Field(50_000, ge=1, description="raise an alarm when this many events wait")


class EdgeSettings(TomlSettings):
    """Everything one desk agent needs."""

    model_config = SettingsConfigDict(env_prefix="CCCD_EDGE_", extra="forbid", env_nested_delimiter="__")

    facility_code: FacilityCode
    reader_id: ReaderId
    pseudonym_key_file: Path = Field(description="deployment key for citizen pseudonyms (0600)")
    state_dir: Path = Field(Path("/var/lib/cccd-edge"), description="outbox and local state")
    mqtt: MqttSettings = MqttSettings()
    outbox: OutboxSettings = OutboxSettings()
    debounce_seconds: float = Field(30.0, ge=0, description="one check-in per card per window")

    def pseudonym_key(self) -> bytes:
        return read_secret_file(self.pseudonym_key_file)

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite"
