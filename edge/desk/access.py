"""Who may read the receptionist's screen: only the desk.

The screen's API and stream carry names and ID numbers, so a web page elsewhere must not
read them, even through DNS rebinding (a foreign name resolving to 127.0.0.1):

* the ``Host`` must be one of the screen's own names (loopback by default, plus the names
  configured for a desk PC on the LAN): anything else is 400;
* a browser's ``Origin`` (and ``Sec-Fetch-Site``) must be the screen's own: else 403;
* a client beyond loopback must present the screen token (``Authorization: Bearer`` or
  the cookie the screen's token form sets): else 401;
* the actions (CAN, next patient, rescan, login) are rate-limited: 429 with Retry-After.

Malformed headers or tokens are 400/401, never an exception: tokens are compared as bytes.
A listen address beyond loopback is refused unless a token is configured and LAN access
is allowed explicitly (:func:`listen_refusal`).
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
COOKIE = "desk_screen"


def is_loopback_address(host: str | None) -> bool:
    """Whether a client or listen address is loopback ('localhost' counts; names otherwise do not)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str | None) -> str | None:
    """The host name of a ``Host`` header (no port, lower case, IPv6 without brackets); None if malformed."""
    if not header or len(header) > 255 or any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in header):
        return None
    try:
        parts = urlsplit("//" + header)
        name = parts.hostname
        parts.port  # noqa: B018  # raises ValueError on a port that is not a number
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return name.lower()


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison that takes any text (``Bearer é`` included) and never raises."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def listen_refusal(host: str, *, allow_lan: bool, token_configured: bool, tls_configured: bool = True) -> str | None:
    """Why the screen must not listen on ``host`` (None when it may)."""
    if is_loopback_address(host):
        return None
    if not allow_lan:
        return (f"screen.host = {host!r} is beyond loopback: the screen shows names and ID numbers. "
                "Keep 127.0.0.1, or set screen.allow_lan = true with screen.token_file and TLS")
    if not token_configured:
        return f"screen.host = {host!r} with allow_lan needs screen.token_file: a LAN client must show a token"
    if not tls_configured:
        return (f"screen.host = {host!r} with allow_lan needs screen.tls_cert_file and screen.tls_key_file: "
                "the token and the patients' data cross the LAN")
    return None


@dataclass(frozen=True)
class ScreenAccess:
    """The screen's own names and the LAN token."""

    names: frozenset[str] = LOOPBACK_NAMES
    token: str | None = None
    secure: bool = False  # served over TLS: the cookie is Secure

    @classmethod
    def for_names(cls, extra_names: Iterable[str] = (), *, token: str | None = None,
                  secure: bool = False) -> ScreenAccess:
        names = set(LOOPBACK_NAMES)
        names.update(n.lower().strip("[]") for n in extra_names if n)
        return cls(frozenset(names), token, secure)

    def host_allowed(self, header: str | None) -> bool:
        name = host_name(header)
        return name is not None and name in self.names

    def origin_allowed(self, origin: str, host_header: str | None) -> bool:
        """A browser's Origin must be the page's own: same scheme-less host and port as the request's Host."""
        if origin == "null":
            return False
        try:
            parts = urlsplit(origin)
            origin_port = parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        wanted = host_name(host_header)
        if wanted is None or parts.hostname.lower() != wanted:
            return False
        try:
            host_port = urlsplit("//" + (host_header or "")).port
        except ValueError:
            return False
        default = 443 if parts.scheme == "https" else 80
        return (origin_port or default) == (host_port or default)


@dataclass
class RateLimiter:
    """A token bucket: ``burst`` actions at once, then one every ``1 / per_second`` seconds."""

    burst: int = 5
    per_second: float = 0.5
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._at = self.clock()

    def allow(self) -> bool:
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_second)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def retry_after(self) -> int:
        """Whole seconds until the next action is allowed."""
        with self._lock:
            missing = max(0.0, 1.0 - self._tokens)
        return max(1, int(missing / self.per_second + 0.999))
