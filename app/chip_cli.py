"""``cccd-edge read-chip``: read and verify a chip ID card on a PC/SC reader.

Prints one JSON object: the fields read (DG1's MRZ fields, DG13 by field
name; of the face image only its size and type), the access method, time per
step, APDU count and bytes, and the trust result (every check with its
reasons, and the level). Exit 0 after a read (whatever the trust level), 2 on
a usage error or a trust path that does not exist or anchors nothing, 1 on a
card or access error with ``{"error": {"code", "message"}}``. ``--reader``
takes a name pattern (default: the contactless slot, never a SAM slot);
``--list-readers`` prints the readers with their kind. The output holds personal data (it is the operator's own
reading): nothing of it is logged.

pyscard is imported only when the command runs (core code stays free of it).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from edge.chip_reader import ChipCheck
from edge.domain.qr import CccdRecord
from edge.icao.access import AccessKey, AccessKeyError, key_from_can, keys_from_mrz, keys_from_qr
from edge.icao.errors import AuthenticationError, IcaoError, SecureMessagingError, TransportError
from edge.icao.lds.dg13 import FIELD_NAMES
from edge.icao.lds.tags import file_name


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cccd-edge read-chip", description="Read and verify a chip ID card (PC/SC).")
    p.add_argument("--reader", metavar="PATTERN",
                   help="reader slot name pattern, regex or text (default: the contactless slot; never a SAM slot)")
    p.add_argument("--list-readers", action="store_true", help="list the readers with their kind and exit")
    p.add_argument("--max-response", type=_max_response, metavar="BYTES",
                   help="largest card answer the reader carries (default: learned; shrinks when refused)")
    src = p.add_mutually_exclusive_group()  # one is required unless --list-readers
    src.add_argument("--qr", metavar="TEXT", help="the card's QR payload: keys derived from it")
    src.add_argument("--can", metavar="NNNNNN", help="the CAN (last 6 digits of the ID number)")
    src.add_argument("--mrz", metavar="LINES", help='typed MRZ: "LINE1 LINE2 LINE3"')
    p.add_argument("--trust", metavar="PATH", action="append", default=[],
                   help="CSCA certificates / master lists (file or directory); repeatable")
    p.add_argument("--no-face", action="store_true", help="do not read DG2 (the face image)")
    p.add_argument("--no-clone-check", action="store_true", help="skip Chip/Active Authentication")
    p.add_argument("--at", metavar="DATE", help="reading date for certificate validity (YYYY-MM-DD[THH:MM])")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each card answer")
    return p


def _max_response(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 64 <= n <= 65536:
        raise argparse.ArgumentTypeError("between 64 and 65536 bytes")
    return n


def _error(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


def _print(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")  # the command's output


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _UsageError(f"--at: not an ISO date: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _keys(opts: argparse.Namespace) -> tuple[list[AccessKey], CccdRecord | None]:
    """(keys in the order to try, the QR record or None)."""
    if opts.qr is not None:
        from edge.domain.messages import DomainError
        from edge.domain.qr import parse_qr
        from edge.domain.validity import expiry_candidates

        try:
            rec = parse_qr(opts.qr)
        except DomainError as e:
            raise _UsageError(f"--qr: {e.code}") from None
        return keys_from_qr(rec.id_number, rec.date_of_birth, expiry_candidates(rec.date_of_birth, rec.issue_date)), rec
    try:
        if opts.can is not None:
            return [key_from_can(opts.can)], None
        return keys_from_mrz(opts.mrz.split()), None
    except AccessKeyError as e:
        raise _UsageError(str(e)) from None


def report(check: ChipCheck, reader: str | None = None) -> dict[str, object]:
    """The JSON document for one :class:`edge.chip_reader.ChipCheck`."""
    read = check.read
    out: dict[str, object] = {"reader": reader, "access": {
        "method": read.access_method,
        "key_source": read.access_key_source,
        "attempts": [{"method": a.method, "key_source": a.key_source, "ok": a.ok,
                      "sw": None if a.sw is None else f"{a.sw:04X}"} for a in read.attempts],
    }}
    dg1 = None
    if read.dg1 is not None:
        m = read.dg1.mrz
        dg1 = {k: getattr(m, k) for k in (
            "format", "document_code", "issuing_state", "document_number", "personal_id", "date_of_birth",
            "sex", "date_of_expiry", "nationality", "primary_identifier", "secondary_identifier")}
    dg13 = None
    if read.dg13 is not None:
        dg13 = {FIELD_NAMES.get(n, f"field{n}"): (v[0] if len(v) == 1 else v)
                for n, v in sorted(read.dg13.fields.items())}
    face = None
    if read.dg2 is not None and read.dg2.image is not None:
        img = read.dg2.image
        face = {"bytes": len(img.data), "type": img.image_type, "mime": check.face_mime,
                "width": img.width, "height": img.height}
    out["dg1"] = dg1
    out["dg13"] = dg13
    out["face"] = face
    out["identity"] = None if check.identity is None else {
        "id_number": check.identity.id_number, "full_name": check.identity.full_name,
        "date_of_birth": None if check.identity.date_of_birth is None else check.identity.date_of_birth.isoformat(),
        "sex": check.identity.sex}
    out["files"] = {file_name(f): len(b) for f, b in read.files.items()}
    out["files_not_read"] = {file_name(f): why for f, why in read.file_status.items()}
    out["parse_errors"] = {file_name(f): why for f, why in read.parse_errors.items()}
    out["timings_ms"] = {k: round(v * 1000, 2) for k, v in read.timings.items()}
    out["apdu"] = {"count": read.apdu_count, "bytes_sent": read.bytes_sent, "bytes_received": read.bytes_received,
                   "per_step": read.step_stats, "response_budget": read.response_budget,
                   "size_history": read.size_history}
    out["recoveries"] = [{"step": r.step, "reason": r.reason} for r in read.recoveries]
    out["resumes"] = read.resumes
    out["clone_checks"] = {o.protocol.value: {"status": o.status.value, "reason": o.reason,
                                              "sw": None if o.sw is None else f"{o.sw:04X}"}
                           for o in (read.chip_authentication, read.active_authentication) if o is not None}
    out["trust"] = check.trust.to_dict()
    return out


def read_chip_main(argv: list[str]) -> int:
    """Entry point; see the module docstring."""
    try:
        opts = build_parser().parse_args(argv)
        if not opts.list_readers and opts.qr is None and opts.can is None and opts.mrz is None:
            raise _UsageError("one of the arguments --qr --can --mrz is required")
        keys, record = ([], None) if opts.list_readers else _keys(opts)
        at = _at(opts.at)
    except _UsageError as e:
        _print(_error("usage", str(e)))
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)

    from edge.chip_reader import read_and_verify
    from edge.trust.store import TrustStoreError, load_trust_store

    try:
        store = load_trust_store(opts.trust) if opts.trust else None
    except TrustStoreError as e:
        _print(_error("trust", str(e)))
        return 2
    try:
        from reader_drivers.pcsc import PcscTransport, list_readers, reader_kind, select_reader
    except ImportError as e:  # pyscard missing
        _print(_error("no_pcsc", f"PC/SC support is not installed: {e}"))
        return 1
    try:
        readers = list_readers()
        if opts.list_readers:
            _print({"readers": [{"name": r, "kind": reader_kind(r)} for r in readers]})
            return 0
        if not readers:
            _print(_error("no_reader", "no PC/SC reader found"))
            return 1
        reader = select_reader(readers, opts.reader)
        with PcscTransport(reader, timeout=opts.timeout) as transport:
            check = read_and_verify(transport, keys, trust_store=store, qr=record, at=at,
                                    read_face=not opts.no_face, clone_check=not opts.no_clone_check,
                                    max_response=opts.max_response)
    except AuthenticationError as e:
        _print(_error("access_denied", str(e)))
        return 1
    except TransportError as e:
        _print(_error("card_error", str(e)))
        return 1
    except SecureMessagingError as e:
        _print(_error("secure_messaging", str(e)))
        return 1
    except IcaoError as e:
        _print(_error("chip_error", f"{type(e).__name__}: {e}"))
        return 1
    _print(report(check, reader))
    return 0


if __name__ == "__main__":
    sys.exit(read_chip_main(sys.argv[1:]))
