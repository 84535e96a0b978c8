"""The shared settings machinery, as the desk code has always imported it: re-exported from :mod:`contract.settings`."""

from contract.settings import (
    ConfigError,
    MqttSettings,
    Section,
    TomlSettings,
    read_secret_file,
    write_secret_file,
)

__all__ = ["ConfigError", "MqttSettings", "Section", "TomlSettings", "read_secret_file", "write_secret_file"]
