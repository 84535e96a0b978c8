"""Chip trust: passive authentication, trust store, AA/CA maths, QR<->chip cross-check.

Pure code: no reader (pyscard), camera (cv2) or MQTT (paho) imports. asn1crypto
describes CMS/X.509 structures, ``cryptography`` does the mathematics.

Modules: :mod:`.passive` (verify_passive), :mod:`.store` (TrustStore),
:mod:`.sod` (parse_sod), :mod:`.result`/:mod:`.levels` (TrustResult,
TrustLevel), :mod:`.crosscheck`, :mod:`.aa` (Active Authentication),
:mod:`.ca` (Chip Authentication maths), :mod:`.cli` (verify-sod).
"""

from edge.trust.aa import sign_aa_challenge, verify_aa
from edge.trust.ca import CASessionKeys, card_session_keys, parse_dg14, start_chip_authentication
from edge.trust.crosscheck import IdentityFields, crosscheck
from edge.trust.errors import SODParseError, TrustError
from edge.trust.levels import TrustLevel
from edge.trust.passive import verify_passive
from edge.trust.result import Check, CheckName, CheckStatus, Reason, TrustResult
from edge.trust.sod import SOD, parse_sod
from edge.trust.store import TrustStore

__all__ = [
    "SOD",
    "CASessionKeys",
    "Check",
    "CheckName",
    "CheckStatus",
    "IdentityFields",
    "Reason",
    "SODParseError",
    "TrustError",
    "TrustLevel",
    "TrustResult",
    "TrustStore",
    "card_session_keys",
    "crosscheck",
    "parse_dg14",
    "parse_sod",
    "sign_aa_challenge",
    "start_chip_authentication",
    "verify_aa",
    "verify_passive",
]
