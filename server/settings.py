"""The central server's settings (``cccd-server``): one TOML file, overridable by ``CCCD_SERVER_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from contract.settings import MqttSettings, Section, TomlSettings


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    read_tokens: list[SecretStr] = Field(min_length=1, description="bearer tokens of viewers")
    admin_tokens: list[SecretStr] = Field(default_factory=list, description="bearer tokens of administrators")

    @field_validator("read_tokens", "admin_tokens")
    @classmethod
    def _long_enough(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        for token in tokens:
            if len(token.get_secret_value()) < 16:
                raise ValueError("tokens must be at least 16 characters")
        return tokens


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


class BrokerFilesSettings(Section):
    """The mosquitto files that ``cccd-server reader add`` regenerates from the registry."""

    password_file: Path | None = Field(None, description="mosquitto password_file to write")
    acl_file: Path | None = Field(None, description="mosquitto acl_file to write")


class IngestSettings(Section):
    batch_size: int = Field(2000, ge=1, le=50_000, description="most events per transaction")
    receive_maximum: int = Field(
        10_000, ge=1, le=65_535, description="unacknowledged QoS 1 messages the broker may send the server at once"
    )
    linger_ms: int = Field(50, ge=0, le=2000, description="how long a batch may wait to fill before its commit")


class ServerSettings(TomlSettings):
    """Everything the central server needs."""

    model_config = SettingsConfigDict(env_prefix="CCCD_SERVER_", extra="forbid", env_nested_delimiter="__")

    database_url: str = Field("sqlite:////var/lib/cccd-server/cccd.sqlite", description="SQLAlchemy URL")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="the day boundary for daily counts")
    mqtt: MqttSettings = MqttSettings(client_id="cccd-server")
    api: ApiSettings
    registry: RegistrySettings = RegistrySettings()
    broker_files: BrokerFilesSettings = BrokerFilesSettings()
    ingest: IngestSettings = IngestSettings()
    ingest_batch_size: int | None = Field(None, ge=1, le=50_000, description="deprecated alias of ingest.batch_size")

    @property
    def batch_size(self) -> int:
        return self.ingest_batch_size or self.ingest.batch_size
