"""read_and_verify against the in-process virtual card: the variants that do
not need pcscd (BAC-only card, RSA Active Authentication, no trust store,
DG1 fallback, hostile CA/AA answers, wrong keys, redacted repr)."""

from __future__ import annotations

import pytest

from edge.chip_reader import identity_from_chip, read_and_verify
from edge.domain.qr import parse_qr
from edge.icao import access
from edge.icao.apdu import ResponseApdu
from edge.icao.session import AccessDeniedError
from edge.trust import CheckName, CheckStatus, TrustLevel
from simulators.vcard.card import VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from simulators.vcard.lds_builder import build_chip_profile
from tests.chip_e2e.conftest import SEED, make_card


def _can(profile):
    return [access.key_from_can(profile.can)]


def test_bac_only_card_is_read_with_the_typed_mrz_and_clone_checked(genuine, trust_store):
    card = VirtualCard(genuine.files, genuine.can, genuine.mrz_information, card_access=None,
                       chip_auth_private_key=genuine.chip_auth_private_key,
                       aa_private_key=genuine.aa_private_key)
    check = read_and_verify(InProcessTransport(card), access.keys_from_mrz(genuine.mrz.splitlines()),
                            trust_store=trust_store, read_face=False)
    assert check.read.access_method == "BAC"
    # CA from a BAC (3DES) session to AES keys
    assert check.trust.check(CheckName.CHIP_AUTHENTICATION).status is CheckStatus.PASSED
    assert check.trust.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_rsa_active_authentication_verifies_with_iso9796_2(citizen, pki, trust_store):
    profile = build_chip_profile(citizen, pki=pki, seed=SEED, aa_algorithm="rsa-2048")
    check = read_and_verify(InProcessTransport(make_card(profile)), _can(profile), trust_store=trust_store,
                            read_face=False)
    aa = check.trust.check(CheckName.ACTIVE_AUTHENTICATION)
    assert aa.status is CheckStatus.PASSED and aa.reason.detail.startswith("iso9796-2 scheme 1")


def test_without_a_trust_store_the_data_is_unanchored_even_with_clone_checks(genuine):
    check = read_and_verify(InProcessTransport(make_card(genuine)), _can(genuine), trust_store=None, read_face=False)
    assert check.trust.check(CheckName.CHIP_AUTHENTICATION).status is CheckStatus.PASSED
    assert check.trust.check(CheckName.CHAIN).codes == ["no_trust_store"]
    assert check.trust.level is TrustLevel.CHIP_DATA_UNANCHORED


def test_identity_falls_back_to_dg1_and_the_crosscheck_drops_diacritics(genuine, citizen, trust_store):
    files = {fid: data for fid, data in genuine.files.items() if fid != 0x010D}  # no DG13 on this chip
    card = VirtualCard(files, genuine.can, genuine.mrz_information,
                       chip_auth_private_key=genuine.chip_auth_private_key, aa_private_key=genuine.aa_private_key)
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store,
                            qr=parse_qr(citizen.qr_payload()), read_face=False)
    ident = check.identity
    assert ident is not None and ident.id_number == citizen.id_number
    assert ident.date_of_birth == citizen.date_of_birth and ident.sex == citizen.sex
    assert check.trust.check(CheckName.CROSSCHECK).codes == ["crosscheck_match"]
    assert identity_from_chip(check.read) == ident


def test_chip_refusing_ca_and_aa_commands_is_not_performed_never_invalid(genuine, trust_store):
    # Issue 12: an error status is not a failed verification, so no evidence of a clone.
    def refuse(card, cmd):
        return ResponseApdu(b"", 0x6A80)

    card = make_card(genuine)
    card.handlers.update({0x88: refuse, 0x22: refuse, 0x86: refuse})
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store, read_face=False)
    for name in (CheckName.ACTIVE_AUTHENTICATION, CheckName.CHIP_AUTHENTICATION):
        c = check.trust.check(name)
        assert c.status is CheckStatus.NOT_CHECKED and c.codes == ["not_checked"], name
        assert "refused" in c.reason.detail and "6A80" in c.reason.detail
    assert check.read.active_authentication.sw == 0x6A80 and not check.read.active_authentication.performed
    assert check.trust.level is TrustLevel.CHIP_VERIFIED and check.clone_checked_by is None


@pytest.mark.parametrize("sw", [0x6D00, 0x6982, 0x6985])
def test_aa_answered_with_an_error_status_is_not_performed_and_ca_gives_clone_checked(genuine, trust_store, sw):
    card = make_card(genuine)
    card.handlers[0x88] = lambda card, cmd: ResponseApdu(b"", sw)
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store, read_face=False)
    aa = check.read.active_authentication
    assert aa is not None and aa.status.value == "not_performed" and aa.sw == sw
    assert check.trust.check(CheckName.ACTIVE_AUTHENTICATION).status is CheckStatus.NOT_CHECKED
    assert check.trust.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.clone_checked_by is CheckName.CHIP_AUTHENTICATION


@pytest.mark.parametrize("sw", [0x6D00, 0x6982, 0x6985])
def test_ca_refused_with_an_error_status_leaves_aa_to_give_clone_checked(genuine, trust_store, sw):
    card = make_card(genuine)
    card.handlers[0x22] = lambda card, cmd: ResponseApdu(b"", sw)
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store, read_face=False)
    assert check.read.chip_authentication.status.value == "not_performed"
    assert check.trust.check(CheckName.CHIP_AUTHENTICATION).status is CheckStatus.NOT_CHECKED
    assert check.trust.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.clone_checked_by is CheckName.ACTIVE_AUTHENTICATION
    assert check.trust.to_dict()["clone_checked_by"] == "active_authentication"


def test_wrong_keys_raise_access_denied_with_the_attempts(genuine, trust_store):
    with pytest.raises(AccessDeniedError) as info:
        read_and_verify(InProcessTransport(make_card(genuine)), [access.key_from_can("000000")],
                        trust_store=trust_store)
    assert [a.ok for a in info.value.attempts] == [False]


def test_chip_check_repr_shows_no_personal_data(genuine, citizen, trust_store):
    check = read_and_verify(InProcessTransport(make_card(genuine)), _can(genuine), trust_store=trust_store)
    text = repr(check)
    assert "chip_verified_clone_checked" in text
    for secret in (citizen.id_number, citizen.full_name, genuine.can):
        assert secret not in text


@pytest.mark.parametrize("argv", [[], ["--can", "12"], ["--can", "123456", "--qr", "x"], ["--mrz", "NOT AN MRZ"],
                                  ["--can", "123456", "--at", "yesterday"], ["--qr", "not|a|cccd"]])
def test_read_chip_cli_usage_errors_exit_2_with_a_json_error(argv, capsys):
    import json

    from app.cli import main

    assert main(["read-chip", *argv]) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["code"] == "usage" and err["message"]


class _Flipping:
    """The genuine card, but its answers from the n-th on (``every``) or only the n-th
    have one byte flipped (a bad MAC)."""

    def __init__(self, card, at: int, every: bool) -> None:
        self.card, self.count, self.at, self.every = card, 0, at, every
        self.extended_length = True

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        out = bytearray(self.card.transmit(apdu))
        hit = self.count >= self.at if self.every else self.count == self.at
        if hit and len(out) > 4 and apdu[0] & 0x0C:
            out[2] ^= 0x01
        return bytes(out)


def test_one_answer_with_a_bad_mac_is_recovered_and_the_reading_keeps_its_level(genuine, trust_store):
    check = read_and_verify(_Flipping(make_card(genuine), 12, every=False), _can(genuine), trust_store=trust_store)
    assert len(check.read.recoveries) == 1  # byte 2 is inside DO'87': refused before the MAC check
    assert check.trust.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_bad_macs_on_every_answer_raise_secure_messaging_error(genuine, trust_store):
    from edge.icao.errors import SecureMessagingError

    with pytest.raises(SecureMessagingError):
        read_and_verify(_Flipping(make_card(genuine), 12, every=True), _can(genuine), trust_store=trust_store)


class _PulledAt(InProcessTransport):
    """The in-process reader, with the card lifted off just before its n-th APDU."""

    def __init__(self, card, at_apdu: int) -> None:
        super().__init__(card)
        self.at_apdu, self.count = at_apdu, 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        if self.count == self.at_apdu:
            self.remove()
        return super().transmit(apdu)


def test_card_removed_at_any_step_raises_card_removed_error_never_an_outcome(genuine, trust_store):
    from edge.icao.errors import CardRemovedError

    full = read_and_verify(InProcessTransport(make_card(genuine)), _can(genuine), trust_store=trust_store)
    total = full.read.apdu_count
    # card access, PACE, a file, DG2, AA, CA's key, CA's proof read (the last APDUs)
    for at in (1, 3, 9, 14, total - 4, total - 2, total):
        transport = _PulledAt(make_card(genuine), at)
        with pytest.raises(CardRemovedError):
            read_and_verify(transport, _can(genuine), trust_store=trust_store)
        assert transport.count == at, at


def test_chip_serving_an_ef_sod_with_trailing_bytes_is_refused_not_verified(genuine, trust_store):
    files = dict(genuine.files)
    files[0x011D] = files[0x011D] + b"\x00\x00"  # the reader still reads it whole: its header says less
    card = VirtualCard(files, genuine.can, genuine.mrz_information,
                       chip_auth_private_key=genuine.chip_auth_private_key, aa_private_key=genuine.aa_private_key)
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store, read_face=False)
    # The file reader stops at the TLV's own length, so the trailing bytes never reach the parser here;
    # the parser's own refusal is proved on bytes given whole:
    assert check.read.files[0x011D] == genuine.files[0x011D]
    from edge.icao.lds.sod import SodError, parse_sod

    with pytest.raises(SodError, match="bytes after the object"):
        parse_sod(files[0x011D])


@pytest.mark.parametrize("trust", ["/path/that/does/not/exist", "EMPTY_DIR"])
def test_read_chip_with_a_trust_path_that_anchors_nothing_exits_2(trust, tmp_path, capsys):
    import json

    from app.cli import main

    if trust == "EMPTY_DIR":
        trust = str(tmp_path)
        (tmp_path / "notes.pem").write_text("not a certificate")
    assert main(["read-chip", "--can", "123456", "--trust", trust]) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["code"] == "trust" and ("not found" in err["message"] or "no trust anchor" in err["message"])


def test_agent_with_a_trust_path_that_does_not_exist_refuses_to_start_exit_2(tmp_path, capsys):
    import os

    from app.cli import run_main
    from edge.settings_base import write_secret_file

    key = tmp_path / "pseudonym.key"
    write_secret_file(key, os.urandom(32))
    config = tmp_path / "edge.toml"
    config.write_text(
        f'facility_code = "34001"\nreader_id = "desk-1"\npseudonym_key_file = "{key}"\n'
        f'state_dir = "{tmp_path / "state"}"\n[mqtt]\nurl = "mqtt://127.0.0.1:1"\n'
        f'[chip]\ntrust_paths = ["{tmp_path / "csca-typo"}"]\n[screen]\nenabled = false\n'
    )
    assert run_main(["--config", str(config)]) == 2
    assert "trust path not found" in capsys.readouterr().err
