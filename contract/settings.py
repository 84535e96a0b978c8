"""Configuration shared by the programs: a typed settings object read from one TOML file
and overridable by environment variables, refusing unknown keys by name.

Each program defines one subclass of :class:`TomlSettings` and calls ``load(path)``.
Environment variables win over the file: ``<PREFIX><KEY>``, nested keys joined by ``__``
(``CCCD_EDGE_MQTT__URL``). Secrets have no defaults: a missing one is an error.
"""

from __future__ import annotations

import contextvars
import os
import stat
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

_toml_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_toml_path", default=None)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the file."""


class Section(BaseModel):
    """A nested settings table; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class MqttSettings(Section):
    """The broker link, shared by the desk agent and the server."""

    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://HOST:PORT or mqtts://HOST:PORT")
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    keepalive: int = Field(30, ge=5, le=3600)
    ca_file: Path | None = Field(None, description="CA that signed the broker's certificate (mqtts)")
    cert_file: Path | None = Field(None, description="client certificate (cccd-server reader add --cert)")
    key_file: Path | None = Field(None, description="the client certificate's private key (mode 0600)")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://HOST:PORT or mqtts://HOST:PORT")
        return value

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (the client certificate and its key)")
        if self.cert_file is not None and not self.tls:
            raise ValueError("a client certificate needs an mqtts:// url")
        return self

    def check_client_key(self) -> None:
        """Refuse a client key that its group or others can read (the certificate's secret), or a missing one."""
        if self.key_file is not None:
            refuse_shared_file(self.key_file, "client key file")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


class TomlSettings(BaseSettings):
    """Base of every program's settings: TOML file, then environment on top."""

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Self:
        """Read the settings from ``path`` (if given) and the environment."""
        toml = Path(path) if path is not None else None
        if toml is not None and not toml.is_file():
            raise ConfigError(f"configuration file not found: {toml}")
        token = _toml_path.set(toml)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, toml)) from None
        except ValueError as exc:  # TOML syntax errors
            raise ConfigError(f"{toml}: {exc}") from None
        finally:
            _toml_path.reset(token)


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = f" in {path}" if path else ""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'{where}")
        elif err["type"] == "missing":
            lines.append(f"missing key '{key}'{where}")
        else:
            lines.append(f"key '{key}'{where}: {err['msg']}")
    return "; ".join(lines)


def refuse_shared_file(path: Path, what: str = "key file") -> None:
    """Refuse a missing secret file, or one that its group or others may access (0600 or stricter)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} {path} is readable by others; run: chmod 600 {path}")


def read_secret_file(path: Path, *, min_bytes: int = 32) -> bytes:
    """Read a key file that must be readable by its owner only (0600 or stricter).

    The file holds hex or raw bytes. Refuses a group- or world-readable file: the key
    protects the pseudonyms of every citizen counted in the deployment.
    """
    refuse_shared_file(path)
    raw = path.read_bytes()
    try:  # hex text (what write_secret_file writes): the line break around it is not the key
        key = bytes.fromhex(raw.strip().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw  # raw bytes: every one counts, a leading or trailing 0x20 or 0x0a included
    if len(key) < min_bytes:
        raise ConfigError(f"key file {path} holds {len(key)} bytes; at least {min_bytes} are needed")
    return key


def write_secret_file(path: Path, key: bytes) -> None:
    """Write a key as hex, created 0600 before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    os.chmod(path, 0o600)
