"""The per-run completion state on the embedded Redis stand-in (fakeredis runs the same Lua)."""

from __future__ import annotations

import fakeredis
import pytest

from pipeline.completion import RunCompletion, run_key


@pytest.fixture
def completion() -> RunCompletion:
    return RunCompletion(fakeredis.FakeRedis(decode_responses=True))


def test_keys_share_one_hash_tag_per_run():
    """Given a run id, when its keys are named, then they all carry the same {run_id} hash tag."""
    assert run_key("r-1", "remaining") == "ytc:{r-1}:remaining"
    assert run_key("r-1", "done").split(":")[1] == "{r-1}"


def test_register_happens_once(completion):
    """Given a registered run, when normalize registers it again, then the counters are not reset."""
    assert completion.register("r", total_jobs=3, unresolved_jobs=1)
    completion.mark_terminal("r", {1: "DONE"})
    assert not completion.register("r", total_jobs=3, unresolved_jobs=1)
    assert completion.live("r").remaining == 2


def test_a_job_counts_once_whatever_the_redeliveries(completion):
    """Given a job marked three times, when the run is counted, then it moved the counter once."""
    completion.register("r", total_jobs=2, unresolved_jobs=0)
    first = completion.mark_terminal("r", {1: "DONE"})
    again = completion.mark_terminal("r", {1: "DONE"})
    assert (first.remaining, first.newly_marked) == (1, 1)
    assert (again.remaining, again.newly_marked) == (1, 0)
    assert completion.live("r").counts == {"DONE": 1}


def test_only_the_caller_that_empties_the_run_sees_zero(completion):
    """Given the last job marked, when it is redelivered, then only the first call reports reaching zero."""
    completion.register("r", total_jobs=2, unresolved_jobs=0)
    assert not completion.mark_terminal("r", {1: "FAILED"}).reached_zero()
    assert completion.mark_terminal("r", {2: "DONE", 1: "FAILED"}).reached_zero()
    assert not completion.mark_terminal("r", {2: "DONE"}).reached_zero()


def test_lost_keys_answer_none_so_callers_ask_the_database(completion):
    """Given a run whose keys were evicted, when a job is marked, then the script says it knows nothing."""
    completion.register("r", total_jobs=2, unresolved_jobs=0)
    completion.forget("r")
    result = completion.mark_terminal("r", {1: "DONE"})
    assert result.remaining is None and not result.reached_zero()
    assert completion.live("r") is None


def test_rebuild_restores_counts_and_does_not_overwrite_live_state(completion):
    """Given terminal and open jobs from the database, when rebuilt, then counts match and a second rebuild is a no-op."""
    assert completion.rebuild(
        "r", terminal={1: "DONE", 2: "FAILED"}, open_job_ids=[3, 4], unresolved=1, waiting=[4]
    )
    live = completion.live("r")
    assert (live.remaining, live.unresolved, live.waiting) == (2, 1, 1)
    assert live.counts == {"DONE": 1, "FAILED": 1}
    assert not completion.rebuild("r", terminal={}, open_job_ids=[], unresolved=0, waiting=[])
    assert completion.mark_terminal("r", {1: "DONE"}).newly_marked == 0  # already counted before the loss
    assert completion.mark_terminal("r", {3: "DONE", 4: "DONE"}).reached_zero()


def test_the_resolution_barrier_opens_once(completion):
    """Given two unresolved jobs, when both leave resolution (one twice), then the barrier reaches zero once."""
    completion.register("r", total_jobs=5, unresolved_jobs=2)
    assert not completion.mark_resolved("r", [7]).reached_zero()
    assert completion.mark_resolved("r", [8, 7]).reached_zero()
    assert not completion.mark_resolved("r", [8]).reached_zero()


def test_search_budget_is_never_exceeded(completion):
    """Given a budget of 2, when 5 searches are asked for, then only 2 are granted."""
    assert [completion.take_search("r", 2) for _ in range(5)] == [True, True, False, False, False]
    assert not completion.take_search("r2", 0)


def test_a_lost_search_counter_restarts_at_what_the_run_was_billed():
    """Given a run that claimed 2 of its 3 searches and was billed for them, when Redis loses its counter,
    then the counter restarts at the 2 billed, so only 1 more is granted, and a give-back never recreates it."""
    redis = fakeredis.FakeRedis(decode_responses=True)
    billed = {"r": 2}
    completion = RunCompletion(redis, searches_billed=lambda run_id: billed.get(run_id, 0))
    completion.register("r", total_jobs=5, unresolved_jobs=5)
    assert [completion.take_search("r", 3) for _ in range(2)] == [True, True]
    redis.flushdb()
    completion.give_back_search("r")
    assert redis.get(run_key("r", "searches")) is None
    assert [completion.take_search("r", 3) for _ in range(3)] == [True, False, False]


def test_lost_units_are_read_from_what_the_run_was_billed():
    """Given a run that spent 3 units and lost its Redis state, when the counters are rebuilt and 2 more units
    are added, then its live units are the billed ones (not the 2 counted since), and Redis answers while whole."""
    redis = fakeredis.FakeRedis(decode_responses=True)
    billed = {"channels.list": 3}
    completion = RunCompletion(redis, units_billed=lambda run_id: dict(billed))
    completion.register("r", total_jobs=5, unresolved_jobs=5)
    completion.add_units("r", "channels.list", 3)
    billed["channels.list"] = 999  # not asked while Redis holds every unit since register
    assert completion.live("r").units == {"channels.list": 3}
    redis.flushdb()
    completion.add_units("r", "videos.list", 2)
    completion.rebuild("r", terminal={}, open_job_ids=[1, 2, 3, 4, 5], unresolved=5, waiting=[])
    billed.update({"channels.list": 3, "videos.list": 2})
    assert completion.live("r").units == {"channels.list": 3, "videos.list": 2}
