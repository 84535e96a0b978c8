"""The built chip, served by the icao engineer's VirtualCard, read by their terminal session.

Skipped until `simulators.vcard.card` and `edge.icao.session` are merged next
to this code (checked against the icao branch during development).
"""

from __future__ import annotations

import pytest

pytest.importorskip("simulators.vcard.card")
session = pytest.importorskip("edge.icao.session")
access = pytest.importorskip("edge.icao.access")
inprocess = pytest.importorskip("simulators.vcard.inprocess")

from simulators.vcard.cli import make_card  # noqa: E402
from simulators.vcard.lds_builder import EF_CARD_ACCESS  # noqa: E402


@pytest.mark.parametrize("kind", ["can", "mrz"])
def test_terminal_reads_every_released_file_byte_for_byte(profile, kind):
    card, description = make_card(profile)
    assert "eMRTD" in description
    value = profile.can if kind == "can" else profile.mrz_information
    result = session.read_chip(inprocess.InProcessTransport(card), [access.AccessKey(kind, value, "test")])
    assert result.access_method.startswith("PACE")
    assert result.files, result.file_status
    for fid, data in result.files.items():
        assert data == profile.files[fid], hex(fid)
    assert {0x0101, 0x0102, 0x010D, 0x010E, 0x010F, 0x011D} <= set(result.files)
    assert not result.parse_errors
    assert profile.card_access == profile.files[EF_CARD_ACCESS]
