"""The terminal's channel to a card: transport + optional secure messaging
+ APDU accounting.

Every failure of the transport (card removed, reader unplugged, any
exception from ``transmit``) becomes a TransportError and ends the session,
except a :class:`TransportOverflowError` (the reader could not carry a large
answer): the card did answer, so its SSC step is counted and the session
goes on with a smaller request. Once a secure
messaging context is set, every command is protected; a bad MAC raises
SecureMessagingError and the context is dropped (never retried).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.icao.apdu import ApduError, CommandApdu, ResponseApdu, Transport
from edge.icao.errors import IcaoError, SecureMessagingError, TransportError, TransportOverflowError
from edge.icao.sm import SmContext


@dataclass
class ApduStats:
    """Counts of what went over the wire (protected sizes when under SM)."""

    commands: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    by_ins: dict[int, int] = field(default_factory=dict)

    def record(self, command: bytes, response: bytes) -> None:
        self.commands += 1
        self.bytes_sent += len(command)
        self.bytes_received += len(response)
        ins = command[1] if len(command) > 1 else -1
        self.by_ins[ins] = self.by_ins.get(ins, 0) + 1


class Channel:
    """Send commands to a card, protected when a session is established."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sm: SmContext | None = None
        self.stats = ApduStats()

    @property
    def extended_length(self) -> bool:
        return bool(getattr(self.transport, "extended_length", False))

    def _raw(self, command: bytes) -> bytes:
        try:
            response = self.transport.transmit(command)
        except TransportOverflowError:
            if self.sm is not None:
                self.sm.count_lost_response()  # the card answered (and counted); only the reader lost it
            raise
        except IcaoError:
            self.sm = None  # whatever else the transport says (card removed...), the session is over
            raise
        except Exception as e:  # the card or reader went away
            self.sm = None
            raise TransportError(f"transport failed: {type(e).__name__}: {e}") from e
        if not isinstance(response, (bytes, bytearray)):
            raise TransportError("transport returned no bytes")
        self.stats.record(command, bytes(response))
        return bytes(response)

    def transmit_plain(self, cmd: CommandApdu) -> ResponseApdu:
        """Send without secure messaging (before access control)."""
        try:
            return ResponseApdu.from_bytes(self._raw(cmd.to_bytes()))
        except ApduError as e:
            raise TransportError(f"malformed response: {e}") from e

    def transmit_secure(self, cmd: CommandApdu) -> ResponseApdu:
        """Send under the current SM session (the hook for CA and AA)."""
        if self.sm is None:
            raise SecureMessagingError("no secure messaging session established")
        protected = self.sm.protect_command(cmd)
        raw = self._raw(protected.to_bytes())
        try:
            resp = self.sm.unprotect_response(raw)
        except SecureMessagingError:
            self.sm = None  # a broken session is never reused
            raise
        if resp.sw in (0x6987, 0x6988):
            self.sm = None  # the card has dropped the session
            raise SecureMessagingError(f"card rejected secure messaging ({resp.sw:04X})")
        return resp

    def transmit(self, cmd: CommandApdu) -> ResponseApdu:
        """Send protected when a session exists, else plain."""
        return self.transmit_secure(cmd) if self.sm is not None else self.transmit_plain(cmd)
