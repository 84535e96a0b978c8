"""``cccd-edge verify-sod``: passive authentication of files, result as JSON.

    cccd-edge verify-sod --trust PATH [--trust PATH ...] [--pinned PATH ...]
                         [--at YYYY-MM-DD] [--crl FILE ...] SOD_FILE [DG_FILE ...]

The data-group number of each DG file is read from its first tag (61 -> DG1,
75 -> DG2, 6F -> DG15 ...), never from the file name. Exit status: 0 when the
reading is verified (chip_verified or better), 1 when it is not, 2 on a usage
error or a file that cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from edge.trust.errors import TrustError
from edge.trust.passive import verify_passive
from edge.trust.sod import dg_number_from_content, parse_sod
from edge.trust.store import load_crls, load_trust_store

EXIT_VERIFIED, EXIT_NOT_VERIFIED, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parse_at(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cccd-edge verify-sod", description="Verify an EF.SOD and data groups (passive authentication).")
    p.add_argument("--trust", action="append", required=True, metavar="PATH",
                   help="CSCA/DS certificates, master lists (.ml), CRLs: file or directory (repeatable)")
    p.add_argument("--pinned", action="append", default=[], metavar="PATH",
                   help="document-signer certificates to pin (repeatable)")
    p.add_argument("--at", type=_parse_at, default=None, metavar="YYYY-MM-DD",
                   help="reading date for validity checks (midnight UTC; default now)")
    p.add_argument("--crl", action="append", default=[], metavar="FILE", help="CRL file (repeatable)")
    p.add_argument("sod", metavar="SOD_FILE")
    p.add_argument("dgs", nargs="*", metavar="DG_FILE")
    return p  # fmt: skip


def verify_sod_main(argv: list[str], out: TextIO | None = None) -> int:
    """Entry point of ``cccd-edge verify-sod``; returns the exit status."""
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        print(f"cccd-edge verify-sod: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return EXIT_USAGE if e.code else EXIT_VERIFIED
    try:
        store = load_trust_store(args.trust, pinned_document_signers=args.pinned)
        sod = parse_sod(Path(args.sod).read_bytes())
        dgs: dict[int, bytes] = {}
        dg_files: dict[str, int] = {}
        for f in args.dgs:
            data = Path(f).read_bytes()
            n = dg_number_from_content(data)
            if n in dgs:
                raise _UsageError(f"{f}: DG{n} given twice")
            dgs[n] = data
            dg_files[f] = n
        crls = [c for f in args.crl for c in load_crls(Path(f).read_bytes())]
    except (_UsageError, TrustError, OSError) as e:
        print(f"cccd-edge verify-sod: {e}", file=sys.stderr)
        return EXIT_USAGE

    result = verify_passive(sod, dgs, trust_store=store, at=args.at, crls=crls)
    doc = result.to_dict()
    doc["input"] = {"sod_file": args.sod, "data_group_files": dg_files}
    doc["trust_store"] = {"counts": store.counts, "sources": [r.to_dict() for r in store.reports]}
    json.dump(doc, out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_VERIFIED if result.verified else EXIT_NOT_VERIFIED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(verify_sod_main(sys.argv[1:]))
