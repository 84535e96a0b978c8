"""A virtual CCCD chip (card side of the ICAO protocols) for tests and demos."""
