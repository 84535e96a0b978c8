"""`cccd-sim chip` builds the profile, tells the operator the QR and CAN, writes the CSCA, serves the card."""

from __future__ import annotations

import io
import socket
import threading

from cryptography import x509

from simulators.population import Population
from simulators.vcard.cli import chip_main


def test_chip_main_serves_the_card_over_vpcd(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(30)
    port = server.getsockname()[1]
    err = io.StringIO()
    stop = threading.Event()
    csca = tmp_path / "csca.pem"
    rc: list[int] = []
    worker = threading.Thread(
        target=lambda: rc.append(
            chip_main(["chip", "--seed", "3", "--index", "2", "--port", str(port), "--write-csca", str(csca),
                       "--plain"],
                      stderr=err, stop=stop)
        )
    )
    worker.start()
    try:
        conn, _ = server.accept()
        conn.settimeout(30)
        conn.sendall(b"\x00\x01\x04")  # get ATR
        n = int.from_bytes(conn.recv(2), "big")
        assert n > 2 and conn.recv(n)[0] == 0x3B
        conn.sendall(b"\x00\x07" + bytes.fromhex("00A4020C02011C"))
        assert conn.recv(4) == b"\x00\x02\x90\x00"
        conn.close()
    finally:
        stop.set()
        worker.join(30)
        server.close()
    assert rc == [0]
    citizen = Population(seed=3).citizen(2)
    text = err.getvalue()
    assert citizen.qr_payload() in text
    assert f"CAN: {citizen.id_number[-6:]}" in text
    cert = x509.load_pem_x509_certificate(csca.read_bytes())
    assert "CSCA TEST Vietnam (synthetic)" in cert.subject.rfc4514_string()
