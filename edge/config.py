"""The desk agent's settings (``cccd-edge``): one TOML file, overridable by ``CCCD_EDGE_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from edge.desk.access import listen_refusal
from edge.events import FacilityCode, ReaderId
from edge.settings_base import MqttSettings, Section, TomlSettings, read_secret_file


class OutboxSettings(Section):
    """The durable queue of events waiting until the server confirms it stored them."""

    max_inflight: int = Field(20, ge=1, le=100, description="unacknowledged publishes at once")
    require_receipt: bool = Field(
        True, description="keep each event until the server's receipt names it; false: until the broker's "
        "PUBACK (only for a server without receipts: a broker crash can then lose events)")
    alarm_depth: int = Field(50_000, ge=1, description="raise an alarm when this many events wait")
    alarm_age_seconds: float = Field(
        3600.0, gt=0, description="raise an alarm when the oldest event has waited this long for its receipt")
    alarm_free_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="raise an alarm when the outbox's disk has less free space")
    retry_after_seconds: float = Field(
        30.0, gt=0, description="publish again what is not confirmed this long after the broker's PUBACK")
    max_retry_after_seconds: float = Field(
        600.0, gt=0, description="the wait doubles while nothing is confirmed, up to this")
    resend_window: int = Field(
        1000, ge=1, le=100_000, description="at most this many events out unconfirmed at once")


class CameraSource(Section):
    kind: Literal["camera"]
    device: str = Field(description="index (0), /dev/videoN, a video file, an image folder or a stream URL")
    width: int = 1280
    height: int = 720
    fps: float = 30
    loop: bool = Field(False, description="replay a video file or image folder forever (demos, soak tests)")
    still_gate: bool = Field(True, description="skip decoding while the view is unchanged and empty")


class SerialSource(Section):
    kind: Literal["serial"]
    device: str = Field(description="the scanner's serial port, e.g. /dev/ttyACM0")
    baudrate: int = 9600
    terminator: str = Field("\r", description="what ends one scan")


class HidSource(Section):
    kind: Literal["hid"]
    device: str = Field(description="the scanner's evdev node, e.g. /dev/input/by-id/...-event-kbd")


QrSourceSettings = Annotated[CameraSource | SerialSource | HidSource, Field(discriminator="kind")]


class ChipSettings(Section):
    enabled: bool = True
    reader: str | None = Field(None, description="reader slot name pattern (regex or text); default the contactless "
                               "slot; never a SAM slot")
    max_response: int | None = Field(None, ge=64, le=65536, description="largest card answer in bytes the reader "
                                     "carries (default: learned from the reader; shrinks when refused)")
    trust_paths: list[Path] = Field(default_factory=list, description="CSCA/DS certificates and master lists")
    read_face: bool = True
    clone_check: bool = True
    wait_seconds: float = Field(20.0, ge=0, description="after a QR scan, how long to wait for the card")
    timeout: float = Field(5.0, gt=0, description="seconds per APDU before the reader is given up")


class ScreenSettings(Section):
    enabled: bool = True
    host: str = Field("127.0.0.1", description="loopback: a kiosk browser on the Pi or the desk PC via SSH tunnel")
    port: int = Field(8081, ge=1, le=65535)
    history_enabled: bool = Field(False, description="keep today's scans at this desk (until midnight)")
    clear_after_seconds: float = Field(120.0, ge=0, description="blank the screen after this long")
    allow_lan: bool = Field(False, description="serve the screen beyond loopback (needs token_file and TLS)")
    names: list[str] = Field(default_factory=list, description="host names a LAN desk PC uses for this screen")
    token_file: Path | None = Field(None, description="the screen token LAN clients must show (0600)")
    tls_cert_file: Path | None = Field(None, description="serve the screen over TLS with this certificate")
    tls_key_file: Path | None = Field(None, description="the TLS certificate's private key (0600)")
    technician_mode: bool = Field(False, description="serve the camera aiming view (/screen/aim): the live "
                                  "frame with the detected QR outlined, for setting up the camera")

    @model_validator(mode="after")
    def _listen_only_where_safe(self) -> ScreenSettings:
        refusal = listen_refusal(self.host, allow_lan=self.allow_lan, token_configured=self.token_file is not None,
                                 tls_configured=self.tls_cert_file is not None and self.tls_key_file is not None)
        if refusal is not None:
            raise ValueError(refusal)
        return self


class HisSettings(Section):
    token_file: Path | None = Field(None, description="the local HIS API token (0600); no file: API off")
    keyboard_wedge: bool = Field(False, description="type the ID number into the focused field (uinput)")
    wedge_suffix: Literal["enter", "tab", "none"] = Field("enter", description="key pressed after the number")


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
    heartbeat_seconds: float = Field(60.0, ge=1)
    qr_sources: list[QrSourceSettings] = Field(default_factory=list)
    chip: ChipSettings = ChipSettings()
    screen: ScreenSettings = ScreenSettings()
    his: HisSettings = HisSettings()

    def pseudonym_key(self) -> bytes:
        return read_secret_file(self.pseudonym_key_file)

    def his_token(self) -> str | None:
        if self.his.token_file is None:
            return None
        return read_secret_file(self.his.token_file, min_bytes=16).hex()

    def screen_token(self) -> str | None:
        """The token a LAN desk PC types into the screen (hex of the 0600 secret file)."""
        if self.screen.token_file is None:
            return None
        return read_secret_file(self.screen.token_file, min_bytes=16).hex()

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite"
