"""Hostile or failing cards: every failure ends as a typed IcaoError or a
recorded file status; nothing hangs, nothing leaks IndexError/ValueError."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.icao import access, tlv
from edge.icao.apdu import ApduError, CommandApdu, StatusError
from edge.icao.crypto import AES128, TDES
from edge.icao.errors import (
    IcaoError,
    LdsError,
    SecureMessagingError,
    TlvError,
    TransportError,
)
from edge.icao.lds.com import parse_com
from edge.icao.lds.dg1 import parse_dg1
from edge.icao.lds.dg2 import parse_dg2
from edge.icao.lds.dg13 import parse_dg13
from edge.icao.lds.dg14 import parse_dg14
from edge.icao.lds.dg15 import parse_dg15
from edge.icao.lds.security_infos import parse_security_infos
from edge.icao.lds.sod import parse_sod
from edge.icao.lds.tags import dg_fid
from edge.icao.session import ChipSession, read_chip
from edge.icao.sm import SmContext
from simulators.vcard.card import VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from tests.chip import citizen

KEY = access.key_from_can(citizen.CAN)


class Tamper:
    """Transport around a VirtualCard that misbehaves on the n-th APDU."""

    def __init__(self, card: VirtualCard, at: int, action: Callable[[bytes], bytes]) -> None:
        self.card, self.at, self.action = card, at, action
        self.extended_length = True
        self.count = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        resp = self.card.transmit(apdu)
        return self.action(resp) if self.count == self.at else resp


def _card(files: dict[int, bytes] | None = None, **kw: object) -> VirtualCard:
    return VirtualCard(files or citizen.card_files().files, citizen.CAN,
                       citizen.MRZ_INFORMATION, **kw)  # type: ignore[arg-type]


def _apdus_to_authenticate() -> int:
    session = ChipSession(InProcessTransport(_card()))
    session.authenticate([KEY])
    return session.channel.stats.commands


def test_card_vanishing_mid_read_raises_transport_error() -> None:
    n = _apdus_to_authenticate() + 3

    def gone(_: bytes) -> bytes:
        raise OSError("card removed")

    with pytest.raises(TransportError, match="card removed"):
        read_chip(Tamper(_card(), n, gone), [KEY])


def test_one_wrong_mac_in_a_response_is_recovered_and_the_read_completes() -> None:
    n = _apdus_to_authenticate() + 2

    def flip(resp: bytes) -> bytes:
        return resp[:-3] + bytes((resp[-3] ^ 0x55,)) + resp[-2:]

    result = read_chip(Tamper(_card(), n, flip), [KEY])
    assert [r.reason for r in result.recoveries] == ["SM response MAC does not verify"]
    assert result.files == {f: d for f, d in citizen.card_files().files.items() if f in result.files}
    assert result.dg2 is not None and result.dg13 is not None


class Persistent(Tamper):
    """Misbehaves on every protected answer from the n-th APDU on."""

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        resp = self.card.transmit(apdu)
        return self.action(resp) if self.count >= self.at and apdu[0] & 0x0C else resp


def test_a_mac_wrong_on_every_answer_ends_in_secure_messaging_error_after_bounded_recoveries() -> None:
    from edge.icao.session import DEFAULT_MAX_RECOVERIES

    def flip(resp: bytes) -> bytes:
        return resp[:-3] + bytes((resp[-3] ^ 0x55,)) + resp[-2:] if len(resp) > 4 else resp

    session = ChipSession(Persistent(_card(), _apdus_to_authenticate() + 2, flip))
    with pytest.raises(SecureMessagingError):
        session.run([KEY])
    assert len(session.result.recoveries) == DEFAULT_MAX_RECOVERIES


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x90", b"\x87\x09\x01\x90\x00", b"\x90\x00", b"\x69\x88"],
    ids=["empty", "1-byte", "cut-do87", "plain-9000-under-sm", "plain-6988"],
)
def test_one_garbled_response_is_recovered_with_the_same_bytes(garbage: bytes) -> None:
    n = _apdus_to_authenticate() + 2
    result = read_chip(Tamper(_card(), n, lambda _: garbage), [KEY])
    assert len(result.recoveries) == 1
    for fid, data in citizen.card_files().files.items():
        assert result.files[fid] == data


def test_unexpected_status_word_on_select_application_is_a_status_error() -> None:
    n = _apdus_to_authenticate()  # the SELECT application itself
    card = _card()

    def refuse(_: bytes) -> bytes:
        card.sm = None
        return b"\x6f\x00"

    with pytest.raises(StatusError) as e:
        read_chip(Tamper(card, n, refuse), [KEY])
    assert e.value.sw == 0x6F00


def test_truncated_and_overlong_files_are_recorded_not_fatal() -> None:
    cf = citizen.card_files()
    files = dict(cf.files)
    dg1 = files[dg_fid(1)]
    assert dg1[1] < 0x60
    files[dg_fid(1)] = dg1[:1] + bytes((dg1[1] + 20,)) + dg1[2:]  # header claims 20 more bytes
    files[dg_fid(13)] = b"\x6d\x84\xff\xff\xff\xff\x30"  # absurd length
    result = read_chip(InProcessTransport(_card(files)), [KEY])
    assert "stopped" in result.file_status[dg_fid(1)] or "ends" in result.file_status[dg_fid(1)]
    assert "too large" in result.file_status[dg_fid(13)]
    assert result.dg2 is not None and result.dg2.image.data == cf.jpeg


def test_malformed_dg_contents_become_parse_errors() -> None:
    files = dict(citizen.card_files().files)
    files[dg_fid(1)] = tlv.encode(0x61, tlv.encode(0x5F1F, b"X" * 90))
    files[dg_fid(2)] = tlv.encode(0x75, tlv.encode(0x7F61, b"\x02\x01\x01"))
    result = read_chip(InProcessTransport(_card(files)), [KEY])
    assert set(result.parse_errors) == {dg_fid(1), dg_fid(2)}
    assert result.dg13 is not None


def test_card_returning_more_than_asked_is_refused() -> None:
    from edge.icao.channel import Channel
    from edge.icao.files import FileReadError, read_file

    class Liar:
        extended_length = False

        def transmit(self, apdu: bytes) -> bytes:
            if apdu[1] == 0xA4:
                return b"\x90\x00"
            return bytes(300) + b"\x90\x00"

    with pytest.raises(FileReadError):
        read_file(Channel(Liar()), 0x011E)


def test_card_answering_empty_data_forever_does_not_hang() -> None:
    from edge.icao.channel import Channel
    from edge.icao.files import FileReadError, read_file

    class Stingy:
        extended_length = False
        calls = 0

        def transmit(self, apdu: bytes) -> bytes:
            self.calls += 1
            if apdu[1] == 0xA4:
                return b"\x90\x00"
            return (b"\x60\x82\x10\x00" if apdu[2:4] == b"\x00\x00" else b"") + b"\x90\x00"

    t = Stingy()
    with pytest.raises(FileReadError):
        read_file(Channel(t), 0x011E)
    assert t.calls < 5


# ----------------------------------------------------------- property tests
PARSERS = [parse_com, parse_dg1, parse_dg2, parse_dg13, parse_dg14, parse_dg15, parse_sod,
           parse_security_infos]


def _tlvish() -> st.SearchStrategy[bytes]:
    # Arbitrary bytes, plus bytes that start like real LDS objects.
    tags = st.sampled_from([b"\x60", b"\x61", b"\x75", b"\x6d", b"\x6e", b"\x6f", b"\x77", b"\x31",
                            b"\x7f\x61", b"\x30"])
    lengths = st.sampled_from([b"\x05", b"\x81\x10", b"\x82\x00\x40", b"\x80", b"\x84\xff\xff\xff\xff"])
    return st.one_of(st.binary(max_size=300), st.builds(lambda t, ln, b: t + ln + b, tags, lengths,
                                                        st.binary(max_size=200)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tlvish())
def test_tlv_decoding_arbitrary_bytes_returns_or_raises_tlv_error(data: bytes) -> None:
    try:
        objs = tlv.decode_all(data)
    except TlvError:
        return
    assert b"".join(o.encode() for o in objs) or not data.strip(b"\x00\xff")
    for o in objs:
        if o.constructed:
            try:
                o.children()
            except TlvError:
                pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=12))
def test_total_length_on_arbitrary_prefix(data: bytes) -> None:
    try:
        n = tlv.total_length(data)
    except TlvError:
        return
    assert n is None or n >= 2


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tlvish(), st.sampled_from(PARSERS))
def test_lds_parsers_on_arbitrary_bytes_return_or_raise_lds_error(data: bytes, parser) -> None:  # type: ignore[no-untyped-def]
    try:
        parser(data)
    except LdsError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=120), st.booleans())
def test_sm_unprotect_of_arbitrary_bytes_raises_only_sm_error(data: bytes, aes: bool) -> None:
    spec = AES128 if aes else TDES
    ctx = SmContext(spec, bytes(16), bytes(16), 0)
    try:
        ctx.unprotect_response(data)
    except SecureMessagingError:
        pass
    try:
        ctx.unprotect_command(CommandApdu(0x0C, 0xB0, 0, 0, data[:255], ne=256))
    except SecureMessagingError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=40))
def test_virtual_card_answers_any_bytes_with_a_status_word(data: bytes) -> None:
    card = _card(card_access=None)
    resp = card.transmit(data)
    assert len(resp) >= 2
    try:
        CommandApdu.from_bytes(data)
    except ApduError:
        assert resp == b"\x67\x00"


def test_errors_are_all_icao_errors() -> None:
    for cls in (TlvError, LdsError, SecureMessagingError, TransportError, StatusError, ApduError):
        assert issubclass(cls, IcaoError)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([0x011E, 0x0101, 0x0102, 0x010D, 0x010E, 0x010F, 0x011D]),
                       _tlvish(), max_size=7))
def test_a_card_serving_arbitrary_file_contents_never_crashes_the_session(files: dict[int, bytes]) -> None:
    # BAC (no EC maths) keeps this fast; every file is read and parsed.
    card = VirtualCard(files, None, citizen.MRZ_INFORMATION, card_access=None)
    result = read_chip(InProcessTransport(card), access.keys_from_mrz(citizen.MRZ_LINES))
    assert result.access_method == "BAC"
    for fid, data in result.files.items():
        assert data == files[fid][: len(data)]
    assert "6A82" in result.file_status.pop(0x011C)  # no EF.CardAccess: BAC
    assert set(result.files) | set(result.file_status) == {0x011E, 0x0101, 0x0102, 0x010D, 0x010E,
                                                           0x010F, 0x011D}


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=60),
                 st.builds(lambda b: b"\x0c" + b, st.binary(min_size=3, max_size=60))))
def test_virtual_card_in_a_session_answers_any_bytes_with_a_status_word(data: bytes) -> None:
    card = VirtualCard(citizen.card_files().files, None, citizen.MRZ_INFORMATION, card_access=None)
    session = ChipSession(InProcessTransport(card))
    session.authenticate(access.keys_from_mrz(citizen.MRZ_LINES))
    assert card.sm is not None
    resp = card.transmit(data)
    assert len(resp) >= 2


def test_card_answering_6cxx_gives_that_many_and_reading_carries_on_at_that_size() -> None:
    from edge.icao.channel import Channel
    from edge.icao.files import read_file
    from edge.icao.sizing import ResponseSizer

    content = tlv.encode(0x6E, bytes(range(256)) * 3)  # a 772-byte file

    class ExactLe:
        """Plain reads: asked for more than 100 bytes, the card answers 6C64 (give Le = 100)."""

        extended_length = False

        def __init__(self) -> None:
            self.les: list[int] = []

        def transmit(self, apdu: bytes) -> bytes:
            if apdu[1] == 0xA4:
                return b"\x90\x00"
            offset, le = (apdu[2] << 8) | apdu[3], apdu[4] or 256
            self.les.append(le)
            if le > 100:
                return b"\x6c\x64"
            return content[offset : offset + le] + b"\x90\x00"

    t = ExactLe()
    sizer = ResponseSizer.start()
    assert read_file(Channel(t), 0x010E, sizer=sizer) == content
    assert sizer.limit == 100 and sizer.history == ["256 -> 100: 6C64: the card gives 100 bytes"]
    assert t.les[:3] == [256, 100, 100]  # one refused, then the size that works from the next read on
