"""Bodies Dramatiq cannot build a message from decode into stand-ins that QueueGuard takes back once."""

from __future__ import annotations

import json

from dramatiq import Message

from actors import envelope
from actors.envelope import EnvelopeEncoder

GOOD = {"queue_name": "runs", "actor_name": "start_run", "args": [], "kwargs": {"run_id": "r"}, "options": {}}


def test_a_well_formed_envelope_decodes_as_dramatiq_decodes_it():
    """Given a complete envelope, when decoded, then it is the same message and nothing waits to be taken."""
    fields = EnvelopeEncoder().decode(json.dumps({**GOOD, "message_id": "m-1"}).encode())
    assert Message(**fields).kwargs == {"run_id": "r"} and envelope.take("m-1") is None


def test_an_unusable_body_becomes_a_stand_in_whose_reason_is_taken_once():
    """Given bodies Message(**fields) would raise on, when decoded, then each is a stand-in message whose
    reason and fields are taken back once by its fresh id."""
    encoder = EnvelopeEncoder()
    bodies = {
        b"\xff not utf-8": "not JSON",
        b'"a string"': "JSON str, not an object",
        json.dumps({k: v for k, v in GOOD.items() if k != "options"}).encode(): "has no options",
        json.dumps({**GOOD, "run_id": "r"}).encode(): "unknown envelope field(s) ['run_id']",
        json.dumps({**GOOD, "args": 5}).encode(): "args must be a list",
        json.dumps({**GOOD, "message_id": {"a": 1}}).encode(): "message_id must be a string",
        json.dumps({**GOOD, "message_timestamp": "now"}).encode(): "message_timestamp must be an integer",
    }
    for body, reason in bodies.items():
        fields = encoder.decode(body)
        message = Message(**fields)
        assert (message.args, message.kwargs, message.options) == ((), {}, {})
        unusable = envelope.take(message.message_id)
        assert unusable is not None and reason in unusable.reason, body
        assert envelope.take(message.message_id) is None
    assert envelope.take("m-1") is None
