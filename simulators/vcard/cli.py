"""`cccd-sim chip`: serve a synthetic citizen's chip through vpcd (a card on a virtual reader).

    cccd-sim chip [--seed S] [--index I] [--port 35963] [--tamper-dg13] [--clone]
                  [--aa ecdsa-p256|rsa-2048] [--write-csca FILE] [--write-ds FILE] [--plain]

Prints to stderr what an operator needs to test the reader (the QR payload
text and the CAN; all synthetic), writes the test CSCA (and DS) as PEM for
the trust store, then keeps the card "on the reader" until Ctrl-C. vpcd
must be running (pcscd with vsmartcard-vpcd; see simulators.services_pcsc).

The card is `simulators.vcard.card.VirtualCard` (PACE/BAC, secure
messaging, CA/AA) when available; `--plain` (or its absence) serves the files
without access control, for transport checks only.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, TextIO

from simulators.vcard.card import VirtualCard
from simulators.vcard.lds_builder import ChipProfile, build_chip_profile
from simulators.vcard.pki import build_test_pki
from simulators.vcard.plain_card import PlainFileCard
from simulators.vcard.vpcd import VPCD_HOST, VPCD_PORT, VpcdLink

__all__ = ["build_parser", "chip_main", "make_card"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cccd-sim chip", description="Serve a synthetic chip ID card through vpcd.")
    p.add_argument("--seed", type=int, default=1, help="population and PKI seed (default 1)")
    p.add_argument("--index", type=int, default=0, help="citizen index in the population (default 0)")
    p.add_argument("--host", default=VPCD_HOST, help="vpcd host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=VPCD_PORT, help="vpcd port: 35963 = reader 00 00, 35964 = 00 01")
    p.add_argument("--tamper-dg13", action="store_true", help="alter DG13 after signing (passive auth must fail)")
    p.add_argument("--clone", action="store_true", help="same files, other chip keys (CA/AA must fail)")
    p.add_argument("--aa", choices=("ecdsa-p256", "rsa-2048"), default="ecdsa-p256", help="Active Authentication key")
    p.add_argument("--write-csca", metavar="FILE", help="write the test CSCA certificate (PEM) here")
    p.add_argument("--write-ds", metavar="FILE", help="write the document signer certificate (PEM) here")
    p.add_argument("--plain", action="store_true", help="serve files without PACE/BAC (transport tests only)")
    return p


def make_card(profile: ChipProfile, *, plain: bool = False) -> tuple[Any, str]:
    """The card object for `profile` and a short description of its kind."""
    if plain:
        return PlainFileCard(profile.files, protected=set(profile.protected_files)), \
            "plain file card (NO access control)"
    card = VirtualCard(
        files=profile.files,
        can=profile.can,
        mrz_information=profile.mrz_information,
        card_access=profile.card_access,
        chip_auth_private_key=profile.chip_auth_private_key,
        aa_private_key=profile.aa_private_key,
    )
    return card, "eMRTD chip (PACE/BAC, secure messaging)"


def chip_main(
    argv: list[str] | None = None, *, stderr: TextIO | None = None, stop: threading.Event | None = None
) -> int:
    """Entry point of `cccd-sim chip`; returns the exit status. `stop` ends serving (tests)."""
    err = stderr or sys.stderr
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["chip"]:
        args = args[1:]
    opts = build_parser().parse_args(args)

    from simulators.population import Population

    citizen = Population(seed=opts.seed).citizen(opts.index)
    pki = build_test_pki(opts.seed)
    profile = build_chip_profile(
        citizen, pki=pki, seed=opts.seed, aa_algorithm=opts.aa, tamper_dg13=opts.tamper_dg13, clone=opts.clone
    )
    if opts.write_csca:
        pki.write_csca_pem(opts.write_csca)
    if opts.write_ds:
        pki.write_ds_pem(opts.write_ds)
    card, kind = make_card(profile, plain=opts.plain)

    reader = f"Virtual PCD 00 {opts.port - VPCD_PORT:02d}" if opts.port in (VPCD_PORT, VPCD_PORT + 1) else "vpcd"
    # Synthetic test data, printed on purpose for the operator (never logged).
    print(f"synthetic citizen seed={opts.seed} index={opts.index}", file=err)
    print(f"QR payload: {citizen.qr_payload()}", file=err)
    print(f"CAN: {profile.can}", file=err)
    print(f"MRZ:\n{profile.mrz}", file=err)
    flags = [f for f, on in (("DG13 tampered", profile.tampered), ("cloned chip keys", profile.cloned)) if on]
    print(f"card: {kind}{' [' + ', '.join(flags) + ']' if flags else ''}", file=err)
    if opts.write_csca:
        print(f"test CSCA written to {opts.write_csca}", file=err)
    print(f"serving on {opts.host}:{opts.port} ({reader}); Ctrl-C to stop", file=err)
    err.flush()

    done = stop or threading.Event()
    previous = None
    if stop is None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    link = VpcdLink(card, opts.host, opts.port).start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        link.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("card removed, bye", file=err)
    return 0


if __name__ == "__main__":
    sys.exit(chip_main())
