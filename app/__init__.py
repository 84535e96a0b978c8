"""The application layer: wires the core (``edge``) and the drivers (``reader_drivers``) into the
desk agent and its commands. Nothing below imports it (tests/test_layers.py checks ``edge``)."""
