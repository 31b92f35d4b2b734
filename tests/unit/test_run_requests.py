"""start_run's message validation: clear errors, nothing silently accepted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.errors import InvalidRequest
from pipeline.stages import start_run_request, usable_run_id, validate_run_request
from tests.factories import make_settings

CTX = SimpleNamespace(settings=make_settings(max_inputs_per_run=5))


def request(**overrides):
    fields = {"run_id": "r-1", "analysis_id": "a", "owner_id": "o", "channel_inputs": ["@x"], "options": None}
    fields.update(overrides)
    return validate_run_request(CTX, **fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run_id": ""}, "run_id"),
        ({"run_id": 42}, "run_id"),
        ({"owner_id": None}, "owner_id"),
        ({"owner_id": "team\x00"}, "owner_id"),
        ({"run_id": "r\udc80"}, "run_id"),
        ({"analysis_id": "x" * 201}, "analysis_id"),
        ({"channel_inputs": "@x"}, "list"),
        ({"channel_inputs": []}, "empty"),
        ({"channel_inputs": ["@x"] * 6}, "too many channel inputs: 6"),
        ({"options": {"allow_serch": True}}, "unknown option"),
        ({"options": {"search_budget": -1}}, "from 0 to 10000"),
        ({"options": {"search_budget": 10**400}}, "from 0 to 10000"),
        ({"options": {"freshness_hours": 1e9}}, "freshness_hours must be a number from 0 to 87840"),
        ({"options": {"freshness_hours": float("nan")}}, "not nan"),
        ({"options": {"freshness_hours": float("inf")}}, "not inf"),
        ({"options": {"freshness_hours": -0.5}}, "from 0"),
        ({"options": {"allow_search": "yes"}}, "wrong type"),
        ({"options": {"search_budget": True}}, "wrong type"),
        ({"options": []}, "options must be an object"),
        ({"options": {"recent_videos": 51}}, "from 0 to 50"),
        ({"options": {"recent_videos": -1}}, "from 0 to 50"),
        ({"options": {"recent_videos": 2.5}}, "wrong type"),
        ({"options": {"video_repoll": True}}, "unknown option"),
    ],
)
def test_malformed_requests_are_rejected_with_a_reason(overrides, message):
    """Given a malformed start_run, when validated, then InvalidRequest names what is wrong."""
    with pytest.raises(InvalidRequest, match=message):
        request(**overrides)


def test_non_string_lines_become_text_and_long_ones_are_cut():
    """Given a null, a number and a huge line, when validated, then each is kept as text, bounded."""
    accepted = request(channel_inputs=[None, 12, "x" * 10_000])
    assert accepted.channel_inputs[:2] == ["", "12"]
    assert len(accepted.channel_inputs[2]) == CTX.settings.max_input_length + 1  # still "too long" later


def test_known_options_pass_through():
    """Given every known option, when validated, then they are kept as given."""
    options = {
        "allow_search": True,
        "search_budget": 3,
        "freshness_hours": 0,
        "use_resolution_cache": False,
        "recent_videos": 50,
    }
    assert request(options=options).options == options


def test_integer_ids_are_kept_as_given_and_stored_as_their_digits():
    """Given the seed backend's integer ids, when validated, then they are accepted and kept as integers."""
    accepted = request(analysis_id=77, owner_id=5)
    assert (accepted.analysis_id, accepted.owner_id) == ("77", "5")
    assert accepted.given_ids == {"analysis_id": 77, "owner_id": 5}
    assert request().given_ids == {}


@pytest.mark.parametrize("given", [True, 77.0, 2**63, -(2**63), [5], {"id": 5}])
def test_ids_that_are_neither_strings_nor_64_bit_integers_are_rejected(given):
    """Given a boolean, a float, an integer beyond 64 bits or a container, when validated, then the error says what is accepted."""
    with pytest.raises(
        InvalidRequest, match=r"owner_id must be a string of 1 to 200 characters .* or a 64-bit integer"
    ):
        request(owner_id=given)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("surplus",), {}, "not 1 positional argument"),
        ((), {"priority": 1}, r"unknown field\(s\) \['priority'\]"),
        ((), {"channel_inputs": None}, "kwargs is missing channel_inputs"),
        ((), {"owner_id": None}, "kwargs is missing owner_id"),
    ],
)
def test_a_start_run_envelope_of_the_wrong_shape_is_rejected_with_a_reason(args, kwargs, message):
    """Given a start_run message with a positional, unknown or missing field, when checked, then InvalidRequest says which."""
    fields = {"run_id": "r-1", "analysis_id": "a", "owner_id": "o", "channel_inputs": ["@x"]}
    fields.update({k: v for k, v in kwargs.items() if v is not None})
    for name in [k for k, v in kwargs.items() if v is None]:
        del fields[name]
    with pytest.raises(InvalidRequest, match=message):
        start_run_request(CTX, args, fields)


@pytest.mark.parametrize(
    ("given", "usable"), [("r-1", "r-1"), (123, "123"), (True, None), ("", None), (None, None)]
)
def test_a_usable_run_id_is_a_storable_string_or_an_integers_digits(given, usable):
    """Given run ids of several types, when asked whether a rejection can be answered under them, then only strings and integers can."""
    assert usable_run_id(given) == usable
