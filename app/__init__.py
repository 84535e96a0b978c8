"""The application layer: wires the core and the drivers into the desk agent and the CLIs."""
