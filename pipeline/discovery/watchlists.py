"""Watchlists: an owner's named keyword sets. Create, list, read, edit, delete — owner-scoped throughout.

Another owner's watchlist is "not found", never "forbidden". Every change is checked whole before it
is written, so a rejected edit leaves the watchlist exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from models import Watchlist
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.finish import give_up
from pipeline.discovery.requests import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    WATCHLIST_SETTINGS,
    clean_keywords,
    clean_name,
    clean_settings,
    clean_text,
)
from pipeline.errors import InvalidRequest, WatchlistNotFound
from pipeline.stages.requests import storable_id

EDITS = ("name", "keywords", "add_keywords", "remove_keywords", *WATCHLIST_SETTINGS)


def watchlist_view(watchlist: Watchlist) -> dict[str, Any]:
    """A watchlist as the Python API, the CLI and the HTTP API show it."""
    return {
        "id": watchlist.id,
        "owner_id": watchlist.owner_id,
        "name": watchlist.name,
        "keywords": list(watchlist.keywords),
        **{name: getattr(watchlist, name) for name in WATCHLIST_SETTINGS},
        "next_cycle_due_at": watchlist.next_due_at.isoformat() if watchlist.next_due_at else None,
        "created_at": watchlist.created_at.isoformat(),
        "updated_at": watchlist.updated_at.isoformat(),
    }


def _owner(owner_id: Any) -> str:
    if not storable_id(owner_id, 200):
        raise InvalidRequest("owner_id must be a string of 1 to 200 characters, without NUL")
    return owner_id


def add_watchlist(
    owner_id: str,
    name: str,
    keywords: list[str],
    settings: Mapping[str, Any] | None = None,
    *,
    ctx: Context,
) -> dict[str, Any]:
    """Create a watchlist; raises InvalidRequest (a bad value, a name the owner already uses)."""
    owner = _owner(owner_id)
    clean = clean_name(name)
    words = clean_keywords(keywords)
    values = clean_settings(settings or {}, WATCHLIST_SETTINGS)
    now = ctx.now()
    watchlist = Watchlist(
        id=str(uuid.uuid4()),
        owner_id=owner,
        name=clean,
        keywords=words,
        **{k: v for k, v in values.items() if v is not None},
        next_due_at=now if values.get("interval_hours") else None,
        created_at=now,
        updated_at=now,
    )
    with ctx.session() as session:
        created = dstore.insert_watchlist(session, watchlist=watchlist)
    if not created:
        raise InvalidRequest(f"a watchlist named {clean!r} already exists")
    return watchlist_view(watchlist)


def list_watchlists(owner_id: str, *, ctx: Context) -> list[dict[str, Any]]:
    """The owner's watchlists, by name."""
    with ctx.session() as session:
        return [watchlist_view(w) for w in dstore.owner_watchlists(session, owner_id=_owner(owner_id))]


def get_watchlist(owner_id: str, watchlist: str, *, ctx: Context) -> dict[str, Any]:
    """One of the owner's watchlists, by name or id; WatchlistNotFound otherwise."""
    with ctx.session() as session:
        found = dstore.find_watchlist(session, owner_id=_owner(owner_id), ref=_ref(watchlist))
    if found is None:
        raise WatchlistNotFound(watchlist)
    return watchlist_view(found)


def _ref(watchlist: Any) -> str:
    if not storable_id(watchlist, 200):
        raise WatchlistNotFound(watchlist if isinstance(watchlist, str) else repr(watchlist))
    return watchlist


def edit_watchlist(
    owner_id: str, watchlist: str, changes: Mapping[str, Any], *, ctx: Context
) -> dict[str, Any]:
    """Change a watchlist: ``name``, ``keywords`` (all of them), ``add_keywords``, ``remove_keywords``
    and any setting (None clears an optional one). All or nothing: one bad value changes nothing."""
    owner = _owner(owner_id)
    ref = _ref(watchlist)
    if not isinstance(changes, Mapping):
        raise InvalidRequest("changes must be an object")
    unknown = sorted(str(k)[:40] for k in changes if k not in EDITS)
    if unknown:
        raise InvalidRequest(f"unknown change(s) {unknown}; known: {list(EDITS)}")
    if not changes:
        raise InvalidRequest("nothing to change")
    settings = clean_settings(
        {k: v for k, v in changes.items() if k in WATCHLIST_SETTINGS}, WATCHLIST_SETTINGS
    )
    new_name = clean_name(changes["name"]) if "name" in changes else None
    replaced = clean_keywords(changes["keywords"]) if "keywords" in changes else None
    added = _keyword_list(changes.get("add_keywords"), "add_keywords")
    removed = _keyword_list(changes.get("remove_keywords"), "remove_keywords")
    now = ctx.now()
    with ctx.session() as session:
        found = dstore.find_watchlist(session, owner_id=owner, ref=ref, lock=True)
        if found is None:
            raise WatchlistNotFound(watchlist)
        keywords = _edited_keywords(replaced or list(found.keywords), added, removed)
        if new_name is not None and dstore.name_taken(
            session, owner_id=owner, name=new_name, other_than=found.id
        ):
            raise InvalidRequest(f"a watchlist named {new_name!r} already exists")
        if keywords != list(found.keywords):
            found.keywords = keywords
            found.keyword_cursor = 0
        if new_name is not None:
            found.name = new_name
        if "interval_hours" in settings:
            found.next_due_at = _next_due(found, settings["interval_hours"], now)
        for name, value in settings.items():
            setattr(found, name, value)
        found.updated_at = now
        session.add(found)
        session.flush()
        return watchlist_view(found)


def _keyword_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidRequest(f"{what} must be a list of strings")
    if len(value) > MAX_KEYWORDS:
        raise InvalidRequest(f"too many keywords in {what}: {len(value):,} (the limit is {MAX_KEYWORDS})")
    return [clean_text(item, f"{what} item {n}", MAX_KEYWORD_LENGTH) for n, item in enumerate(value, 1)]


def _edited_keywords(keywords: list[str], added: list[str], removed: list[str]) -> list[str]:
    """The keyword list after removals (each must be there, any letter case) and additions."""
    result = list(keywords)
    for word in removed:
        match = next((k for k in result if k.casefold() == word.casefold()), None)
        if match is None:
            raise InvalidRequest(f"keyword {word[:40]!r} is not in the watchlist")
        result.remove(match)
    return clean_keywords(result + added)


def _next_due(watchlist: Watchlist, interval_hours: int | None, now: Any) -> Any:
    """A newly scheduled watchlist is due now; a new interval never pushes the next cycle later."""
    if interval_hours is None:
        return None
    if watchlist.next_due_at is None:
        return now
    return min(watchlist.next_due_at, now + timedelta(hours=interval_hours))


def delete_watchlist(owner_id: str, watchlist: str, *, ctx: Context) -> None:
    """Delete a watchlist and its stored discoveries; its open cycles finish at once with that reason."""
    owner = _owner(owner_id)
    ref = _ref(watchlist)
    with ctx.session() as session:
        found = dstore.find_watchlist(session, owner_id=owner, ref=ref, lock=True)
        if found is None:
            raise WatchlistNotFound(watchlist)
        open_ids = [c.id for c in dstore.open_cycles(session, watchlist_id=found.id)]
        dstore.delete_watchlist(session, watchlist_id=found.id)
    for cycle_id in open_ids:
        give_up(ctx, cycle_id, "the watchlist was deleted before the cycle finished")
