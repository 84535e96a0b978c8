"""The trust level of a reading: defined by the wire contract (:mod:`contract.levels`), re-exported here."""

from contract.levels import TrustLevel

__all__ = ["TrustLevel"]
