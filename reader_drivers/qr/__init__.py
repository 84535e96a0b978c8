"""QR sources (camera, serial and HID scanners) and the decode pipeline; see README.md."""
