"""Chip trust: passive authentication, trust store, AA/CA maths, QR<->chip cross-check.

Pure code: no reader (pyscard), camera (cv2) or MQTT (paho) imports. asn1crypto
describes CMS/X.509 structures, ``cryptography`` does the mathematics.
"""

from edge.trust.errors import SODParseError, TrustError
from edge.trust.levels import TrustLevel
from edge.trust.passive import verify_passive
from edge.trust.result import Check, CheckName, CheckStatus, Reason, TrustResult
from edge.trust.sod import SOD, parse_sod
from edge.trust.store import TrustStore

__all__ = [
    "Check",
    "CheckName",
    "CheckStatus",
    "Reason",
    "SOD",
    "SODParseError",
    "TrustError",
    "TrustLevel",
    "TrustResult",
    "TrustStore",
    "parse_sod",
    "verify_passive",
]
