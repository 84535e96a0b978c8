"""The wire contract shared by the desks and the server (light to import)."""
