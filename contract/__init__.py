"""The wire contract shared by the desks and the server, and nothing else.

Light to import (pydantic only; paho only in :mod:`contract.mqtt`): the server imports
this package and no desk internals.

Modules: :mod:`.events` (CheckInEvent, Receipt, ids, pseudonyms, the JSON Schema),
:mod:`.levels` (TrustLevel), :mod:`.topics` (topic builders, ``parse_topic``, the
identifier rules), :mod:`.status` (the retained status payloads: online, lost, stopped),
:mod:`.settings` (TOML settings, the MQTT link, secret files),
:mod:`.mqtt` (the one paho client factory), :mod:`.catalogue` (coded bilingual messages).
"""
