"""The central server's settings (``cccd-server``): one TOML file, overridable by ``CCCD_SERVER_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from edge.settings_base import MqttSettings, Section, TomlSettings


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


class ServerSettings(TomlSettings):
    """Everything the central server needs."""

    model_config = SettingsConfigDict(env_prefix="CCCD_SERVER_", extra="forbid", env_nested_delimiter="__")

    database_url: str = Field("sqlite:////var/lib/cccd-server/cccd.sqlite", description="SQLAlchemy URL")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="the day boundary for daily counts")
    mqtt: MqttSettings = MqttSettings(client_id="cccd-server")
    api: ApiSettings
    ingest_batch_size: int = Field(500, ge=1, le=10_000)
