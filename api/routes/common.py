"""Helpers the routers share: ids that cannot exist are "not found", error bodies for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from api.schemas import ErrorBody
from pipeline.stages import storable_id


def checked_id(value: str, what: str, max_length: int = 64) -> str:
    """A path id the database can hold; anything else names nothing, so it is a 404."""
    if not storable_id(value, max_length):
        raise HTTPException(status_code=404, detail=f"{what} {value[:80]!r} not found")
    return value


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each listed status answers an ``ErrorBody``."""
    return {code: {"model": ErrorBody} for code in codes}
