"""The discovery routes of the HTTP API over real HTTP (uvicorn on loopback), on the real PostgreSQL, Redis
and RabbitMQ: watchlists, cycles started by hand and followed to FINISHED by a real worker against the
emulator, owner isolation, idempotence on a client-chosen cycle_id, bad bodies.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from models import DiscoveryCycle, Watchlist
from tests.integration.api_harness import AppServer, bearer
from tests.integration.pipeline_harness import drain_events, wait_until

pytestmark = pytest.mark.services


def keywords_of(emulator: Any, n: int) -> list[str]:
    """The ``n`` words most common in the catalogue's channel titles: each finds a page of channels."""
    words = Counter(
        w.lower()
        for i in range(len(emulator.catalogue))
        for w in re.findall(r"[A-Za-z]{4,}", emulator.catalogue.titles[i])
        if w.lower() not in ("with", "official")
    )
    return [word for word, _ in words.most_common(n)]


def count(ctx: Any, model: Any) -> int:
    with ctx.session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


@pytest.fixture
def events_queue(pipeline_ctx: Any) -> Iterator[str]:
    """The queue this context's discovery_finished events go to, empty before and after the test."""
    queue = pipeline_ctx.settings.discovery_finished_queue
    drain_events(queue)
    yield queue
    drain_events(queue)


@pytest.fixture
def quiet(pipeline_ctx: Any) -> Iterator[tuple[httpx.Client, list[Any]]]:
    """The API on the real services with nothing consuming: what it would send is kept in a list."""
    from api import create_app

    sent: list[Any] = []
    with (
        AppServer(create_app(pipeline_ctx, send=sent.extend)) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        yield c, sent


def add(client: httpx.Client, token: str, name: str, keywords: list[str], **settings: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/watchlists",
        json={"name": name, "keywords": keywords, "settings": settings},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def finished_cycle(client: httpx.Client, token: str, status_url: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status = client.get(status_url, headers=bearer(token)).json()
        return status if status["status"] == "FINISHED" else None

    return wait_until(done, timeout=90, interval=0.2)  # type: ignore[no-any-return]


# --- a cycle started over HTTP, followed to FINISHED ---------------------------------------------------


def test_a_cycle_started_over_http_finishes_and_its_discoveries_list_new_first(
    client, tokens_of, emulator, pipeline_ctx, events_queue
):
    """Given alice's watchlist of two keywords and a real worker, when POST /v1/discoveries starts a cycle and a second follows, then the first finishes with every channel new, the watchlist's discoveries list them (JSON pages and CSV), the second reports none new, and each cycle sends one discovery_finished."""
    alice = bearer(tokens_of["alice"])
    add(client, tokens_of["alice"], "rivals", keywords_of(emulator, 2))

    response = client.post("/v1/discoveries", json={"watchlist": "rivals"}, headers=alice)

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "PENDING" and accepted["created"] is True
    assert response.headers["location"] == accepted["status_url"] == f"/v1/discoveries/{accepted['cycle_id']}"
    status = finished_cycle(client, tokens_of["alice"], accepted["status_url"])
    assert status["trigger"] == "manual" and status["error"] is None and status["progress"] == 1.0
    assert status["watchlist"] == "rivals" and status["search_calls"] == 2
    summary = status["summary"]
    found = {c["channel_id"] for c in summary["channels"]}
    assert len(found) > 50 and summary["new_channels_total"] == summary["channels_total"] == len(found)
    assert emulator.usage()["buckets"]["search"]["requests_total"] == 2

    first = client.get("/v1/watchlists/rivals/discoveries?limit=50", headers=alice).json()
    rest = client.get(
        f"/v1/watchlists/rivals/discoveries?offset={first['next_offset']}&limit=1000", headers=alice
    ).json()
    assert first["total"] == len(found) and len(first["items"]) == 50 and first["new_only"] is False
    assert rest["next_offset"] is None
    rows = first["items"] + rest["items"]
    assert {r["channel_id"] for r in rows} == found and all(r["new"] for r in rows)
    assert all("computed by ytcollect" in r["score_label"] for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    as_csv = client.get("/v1/watchlists/rivals/discoveries?format=csv", headers=alice)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="discoveries-rivals.csv"' in as_csv.headers["content-disposition"]
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["channel_id"] for r in csv_rows] == [r["channel_id"] for r in rows]
    assert csv_rows[0]["keywords"] == "; ".join(rows[0]["keywords"])

    again = client.post("/v1/discoveries", json={"watchlist": "rivals"}, headers=alice).json()
    second = finished_cycle(client, tokens_of["alice"], again["status_url"])
    assert second["summary"]["new_channels_total"] == 0
    assert {c["channel_id"] for c in second["summary"]["channels"]} == found
    newer = client.get("/v1/watchlists/rivals/discoveries?new=true", headers=alice).json()
    assert newer["total"] == 0 and newer["items"] == [] and newer["new_only"] is True
    assert count(pipeline_ctx, DiscoveryCycle) == 2
    sent: list[dict[str, Any]] = []

    def both_events() -> bool:
        sent.extend(json.loads(body) for body in drain_events(events_queue))
        return len(sent) >= 2

    wait_until(both_events, timeout=15)  # each is published just after its cycle's FINISHED commit
    assert sorted(e["cycle_id"] for e in sent) == sorted([accepted["cycle_id"], again["cycle_id"]])


def test_ad_hoc_keywords_start_a_cycle_without_a_watchlist(client, tokens_of, emulator, events_queue):
    """Given no watchlist, when POST /v1/discoveries sends keywords and options, then the cycle keeps to its budget, finishes, and names no watchlist."""
    words = keywords_of(emulator, 3)
    response = client.post(
        "/v1/discoveries",
        json={"keywords": words, "options": {"search_budget": 1}},
        headers=bearer(tokens_of["bob"]),
    )
    assert response.status_code == 202, response.text

    status = finished_cycle(client, tokens_of["bob"], response.json()["status_url"])

    assert status["watchlist"] is None and status["keywords"] == words
    assert status["search_budget"] == 1 and status["search_calls"] == 1
    assert status["summary"]["keywords_skipped"] == 2 and status["summary"]["channels_total"] > 0


# --- watchlists ---------------------------------------------------------------------------------------


def test_watchlists_are_created_listed_read_edited_and_deleted(quiet, tokens_of, pipeline_ctx):
    """Given alice's token, when a watchlist goes through POST, GET, PATCH and DELETE, then each answer shows the watchlist as stored, by name or id, and after DELETE it is gone."""
    client, _ = quiet
    alice = bearer(tokens_of["alice"])

    response = client.post(
        "/v1/watchlists",
        json={
            "name": " coffee  gear ",
            "keywords": ["espresso machine", "Latte Art", "latte art"],
            "settings": {"region_code": "us", "interval_hours": 24},
        },
        headers=alice,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/watchlists/{created['id']}"
    assert created["name"] == "coffee gear" and created["owner_id"] == "alice"
    assert created["keywords"] == ["espresso machine", "Latte Art"]
    assert created["region_code"] == "US" and created["interval_hours"] == 24
    assert created["next_cycle_due_at"] is not None and created["start_runs"] is False
    add(client, tokens_of["alice"], "another", ["tea"])

    listed = client.get("/v1/watchlists", headers=alice).json()
    by_name = client.get("/v1/watchlists/coffee gear", headers=alice).json()
    by_id = client.get(f"/v1/watchlists/{created['id']}", headers=alice).json()
    edited = client.patch(
        "/v1/watchlists/coffee gear",
        json={
            "name": "coffee",
            "add_keywords": ["grinder"],
            "remove_keywords": ["latte art"],
            "settings": {"start_runs": True, "interval_hours": None},
        },
        headers=alice,
    )

    assert [w["name"] for w in listed["items"]] == ["another", "coffee gear"]
    assert by_name == by_id == created
    assert edited.status_code == 200, edited.text
    after = edited.json()
    assert after["id"] == created["id"] and after["name"] == "coffee"
    assert after["keywords"] == ["espresso machine", "grinder"]
    assert (
        after["start_runs"] is True and after["interval_hours"] is None and after["next_cycle_due_at"] is None
    )
    assert after["region_code"] == "US"  # settings not named are kept
    assert client.get("/v1/watchlists/coffee", headers=alice).json() == after
    deleted = client.delete("/v1/watchlists/coffee", headers=alice)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = client.get(f"/v1/watchlists/{created['id']}", headers=alice)
    assert gone.status_code == 404 and gone.json()["detail"] == f"watchlist {created['id']!r} not found"
    assert count(pipeline_ctx, Watchlist) == 1


def test_a_taken_name_is_409_on_create_and_rename_and_changes_nothing(quiet, tokens_of):
    """Given alice's watchlists a and b, when another a is created or b is renamed a, then both are 409 with a sentence, while bob may use the name a."""
    client, _ = quiet
    alice = bearer(tokens_of["alice"])
    first = add(client, tokens_of["alice"], "a", ["one"])
    b = add(client, tokens_of["alice"], "b", ["two"])

    again = client.post("/v1/watchlists", json={"name": " a ", "keywords": ["x"]}, headers=alice)
    renamed = client.patch("/v1/watchlists/b", json={"name": "a", "add_keywords": ["y"]}, headers=alice)
    same = client.patch("/v1/watchlists/a", json={"name": "a"}, headers=alice)

    for response in (again, renamed):
        assert response.status_code == 409
        assert response.json()["detail"] == "a watchlist named 'a' already exists"
    assert same.status_code == 200  # its own name is not taken
    assert client.get("/v1/watchlists/a", headers=alice).json()["keywords"] == first["keywords"]
    assert client.get("/v1/watchlists/b", headers=alice).json() == b
    add(client, tokens_of["bob"], "a", ["bob's"])


# --- owner isolation ----------------------------------------------------------------------------------


def test_another_owners_watchlist_and_cycle_are_404_everywhere(quiet, tokens_of, pipeline_ctx):
    """Given alice's watchlist and cycle, when bob reads, edits, deletes, lists or discovers with them (by name or id), then each is 404, never 403, and alice's are untouched."""
    client, sent = quiet
    alice, bob = bearer(tokens_of["alice"]), bearer(tokens_of["bob"])
    watchlist = add(client, tokens_of["alice"], "secret", ["espresso"])
    cycle = client.post("/v1/discoveries", json={"watchlist": "secret"}, headers=alice).json()
    sends = len(sent)

    for ref in ("secret", watchlist["id"]):
        calls = [
            ("GET", f"/v1/watchlists/{ref}", None),
            ("PATCH", f"/v1/watchlists/{ref}", {"add_keywords": ["mine now"]}),
            ("DELETE", f"/v1/watchlists/{ref}", None),
            ("GET", f"/v1/watchlists/{ref}/discoveries", None),
            ("GET", f"/v1/watchlists/{ref}/discoveries?format=csv", None),
            ("POST", "/v1/discoveries", {"watchlist": ref}),
        ]
        for method, path, body in calls:
            response = client.request(method, path, json=body, headers=bob)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["detail"] == f"watchlist {ref!r} not found"
    refused = client.get(cycle["status_url"], headers=bob)

    assert refused.status_code == 404
    assert refused.json()["detail"] == f"discovery cycle {cycle['cycle_id']} not found"
    assert client.get("/v1/watchlists", headers=bob).json() == {"items": []}
    assert client.get("/v1/watchlists/secret", headers=alice).json() == watchlist
    assert client.get(cycle["status_url"], headers=alice).json()["owner_id"] == "alice"
    assert count(pipeline_ctx, DiscoveryCycle) == 1 and len(sent) == sends


def test_every_discovery_route_needs_a_valid_token(quiet, tokens_of):
    """Given no token or a malformed one, when each discovery route is called, then it answers 401 with WWW-Authenticate."""
    client, _ = quiet
    for headers in ({}, bearer("ytc_not-a-real-token")):
        for method, path in [
            ("GET", "/v1/watchlists"),
            ("POST", "/v1/watchlists"),
            ("GET", "/v1/watchlists/w"),
            ("PATCH", "/v1/watchlists/w"),
            ("DELETE", "/v1/watchlists/w"),
            ("GET", "/v1/watchlists/w/discoveries"),
            ("POST", "/v1/discoveries"),
            ("GET", f"/v1/discoveries/{uuid.uuid4()}"),
        ]:
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"


# --- idempotence and bad bodies -----------------------------------------------------------------------


def test_post_discoveries_is_idempotent_on_a_client_chosen_cycle_id(quiet, tokens_of, pipeline_ctx):
    """Given a client-chosen cycle_id, when the same POST is sent twice, then one cycle exists and is sent once, the second answer says created=false, and another owner reusing the id gets 409."""
    client, sent = quiet
    cycle_id = str(uuid.uuid4())
    body = {"cycle_id": cycle_id, "keywords": ["espresso machine"]}

    first = client.post("/v1/discoveries", json=body, headers=bearer(tokens_of["alice"]))
    second = client.post("/v1/discoveries", json=body, headers=bearer(tokens_of["alice"]))
    other = client.post("/v1/discoveries", json=body, headers=bearer(tokens_of["bob"]))

    assert first.status_code == second.status_code == 202
    assert (first.json()["cycle_id"], first.json()["created"]) == (cycle_id, True)
    assert (second.json()["cycle_id"], second.json()["created"]) == (cycle_id, False)
    assert (
        second.json()["status"] == "PENDING" and second.headers["location"] == f"/v1/discoveries/{cycle_id}"
    )
    assert other.status_code == 409 and "cycle_id" in other.json()["detail"]
    assert count(pipeline_ctx, DiscoveryCycle) == 1
    assert [(s.actor, s.kwargs) for s in sent] == [("discover_cycle", {"cycle_id": cycle_id})]


MANY = [f"k{i}" for i in range(1_000)]
LONG = "x" * 5_000


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/watchlists", {"name": "w", "keywords": []}, "keywords is empty"),
        ("/v1/watchlists", {"name": "w", "keywords": MANY}, "too many keywords: 1,000 (the limit is 100)"),
        (
            "/v1/watchlists",
            {"name": "w", "keywords": [LONG]},
            "keyword 1 is 5,000 characters long (the limit is 200)",
        ),
        ("/v1/watchlists", {"name": "w", "keywords": "espresso"}, "keywords: Input should be a valid list"),
        ("/v1/watchlists", {"name": "", "keywords": ["a"]}, "the watchlist name is empty"),
        (
            "/v1/watchlists",
            {"name": "w", "keywords": ["a"], "settings": {"turbo": 1}},
            "unknown option(s) ['turbo']",
        ),
        (
            "/v1/watchlists",
            {"name": "w", "keywords": ["a"], "settings": {"search_budget": 0}},
            "search_budget must be from 1",
        ),
        ("/v1/watchlists", {"keywords": ["a"]}, "name: Field required"),
        ("/v1/discoveries", {"keywords": []}, "keywords is empty"),
        ("/v1/discoveries", {"keywords": MANY}, "too many keywords: 1,000 (the limit is 100)"),
        ("/v1/discoveries", {"keywords": [LONG]}, "keyword 1 is 5,000 characters long (the limit is 200)"),
        ("/v1/discoveries", {}, "give either a watchlist or keywords, not both and not neither"),
        ("/v1/discoveries", {"watchlist": "w", "keywords": ["a"]}, "not both"),
        (
            "/v1/discoveries",
            {"keywords": ["a"], "options": {"interval_hours": 2}},
            "unknown option(s) ['interval_hours']",
        ),
        ("/v1/discoveries", {"keywords": ["a"], "cycle_id": "bad\u0000id"}, "cycle_id must be"),
        ("/v1/discoveries", {"keywords": ["a"], "when": "now"}, "when: Extra inputs are not permitted"),
    ],
)
def test_bad_bodies_are_answered_422_with_a_sentence_and_record_nothing(
    quiet, tokens_of, pipeline_ctx, path, body, expected
):
    """Given a bad POST body (empty, 1,000 or 5,000-character keywords, bad settings), when it is sent, then the answer is 422 with one sentence naming the problem, and nothing is recorded or sent."""
    client, sent = quiet

    response = client.post(path, json=body, headers=bearer(tokens_of["alice"]))

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and expected in detail and "\n" not in detail
    assert count(pipeline_ctx, Watchlist) == count(pipeline_ctx, DiscoveryCycle) == 0 and sent == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"keywords": []}, "keywords is empty"),
        ({"add_keywords": MANY}, "too many keywords in add_keywords: 1,000 (the limit is 100)"),
        ({"add_keywords": [LONG]}, "add_keywords item 1 is 5,000 characters long"),
        ({"remove_keywords": ["never there"]}, "keyword 'never there' is not in the watchlist"),
        ({"name": "new", "settings": {"search_budget": 0}}, "search_budget"),
        ({"settings": {"keywords": ["smuggled"]}}, "unknown option(s) ['keywords']"),
        ({}, "nothing to change"),
    ],
)
def test_a_bad_edit_is_422_and_leaves_the_watchlist_as_it_was(quiet, tokens_of, body, expected):
    """Given alice's watchlist, when a bad PATCH is sent, then it is 422 with one sentence and the watchlist is unchanged."""
    client, _ = quiet
    before = add(client, tokens_of["alice"], "mine", ["espresso", "grinder"])

    response = client.patch("/v1/watchlists/mine", json=body, headers=bearer(tokens_of["alice"]))

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert expected in detail and "\n" not in detail
    assert client.get("/v1/watchlists/mine", headers=bearer(tokens_of["alice"])).json() == before


def test_a_discovery_body_over_its_own_limit_is_413_where_a_run_body_is_not(quiet, tokens_of):
    """Given the 1 MiB limit of the discovery routes, when 1.2 MB bodies are posted there and to /v1/runs, then the discovery routes answer 413 with a sentence and /v1/runs reads its body."""
    client, sent = quiet
    alice = bearer(tokens_of["alice"])
    padding = "x" * 1_200_000

    answers = [
        client.post("/v1/watchlists", json={"name": "w", "keywords": [padding]}, headers=alice),
        client.patch("/v1/watchlists/w", json={"add_keywords": [padding]}, headers=alice),
        client.post("/v1/discoveries", json={"keywords": [padding]}, headers=alice),
    ]
    run = client.post(
        "/v1/runs", json={"analysis_id": "a", "channel_inputs": ["@a"], "pad": padding}, headers=alice
    )

    for response in answers:
        assert response.status_code == 413
        assert response.json()["detail"] == "the request body is larger than 1,048,576 bytes"
    assert run.status_code == 422 and "pad" in run.json()["detail"]
    assert sent == []
