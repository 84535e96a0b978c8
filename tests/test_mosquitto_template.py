"""The broker configuration template of systemd/ runs on the real mosquitto: a reader with its issued
credentials publishes over TLS to its own topics only, reads only its own receipts, and a packet over
the template's size cap is refused at the door."""

from __future__ import annotations

import pytest

from tests.server.template_broker import TemplateBroker

pytestmark = pytest.mark.services
READER = ("reader-34001-desk-1", "reader-password-123", "34001", "desk-1")
OTHER = ("reader-34002-desk-1", "other-password-123", "34002", "desk-1")


def test_the_broker_template_lets_a_reader_publish_to_its_own_topics_only():
    with TemplateBroker([READER, OTHER]) as broker:
        reader = broker.reader(READER[0], READER[1], "t-desk-1").connect()
        try:
            assert reader.publish("cccd/v1/34001/desk-1/checkin", b"{}") < 128  # success (16 = no subscriber yet)
            assert reader.publish("cccd/v1/34002/desk-1/checkin", b"{}") == 135
            assert reader.publish("cccd/v1/34001/desk-1/receipt", b"{}") == 135  # only the server writes receipts
        finally:
            reader.close()


def test_the_broker_template_delivers_a_readers_receipts_to_that_reader_only_and_caps_packets():
    with TemplateBroker([READER, OTHER]) as broker:
        own = broker.reader(READER[0], READER[1], "t-own").connect()
        other = broker.reader(OTHER[0], OTHER[1], "t-other").connect()
        server = broker.server_client("t-server").connect()
        try:
            own.subscribe("cccd/v1/34001/desk-1/receipt")
            other.subscribe("cccd/v1/34001/desk-1/receipt")
            assert server.publish("cccd/v1/34001/desk-1/receipt", b'{"receipt": 1}') == 0
            assert own.wait_for(lambda c: c.messages == [("cccd/v1/34001/desk-1/receipt", b'{"receipt": 1}')], 10)
            assert other.messages == []
            assert "max_packet_size 65536" in broker.conf_text
            assert own.publish_too_large("cccd/v1/34001/desk-1/checkin", b"x" * 100_000) >= 128
        finally:
            for client in (own, other, server):
                client.close()
