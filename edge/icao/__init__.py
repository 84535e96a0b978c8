"""ICAO Doc 9303 eMRTD protocols, pure and transport-independent.

One module per concern (modelled on gmrtd): APDUs, BER-TLV, MRZ, the
cryptographic primitives, secure messaging, BAC, PACE, file reading, the LDS
parsers, access keys and the terminal-side reading session. Nothing here
imports pyscard: a reader driver supplies a :class:`edge.icao.apdu.Transport`.
"""
