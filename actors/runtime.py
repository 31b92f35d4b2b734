"""The worker process's Context, built once from Settings on first use (tests and the embedded mode set their own)."""

from __future__ import annotations

import threading

from pipeline.config import get_settings
from pipeline.context import Context, build_context

_context: Context | None = None
_lock = threading.Lock()


def get_context() -> Context:
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = build_context(get_settings())
    return _context


def set_context(ctx: Context | None) -> None:
    """Install (or clear, with None) the context every actor in this process uses."""
    global _context
    with _lock:
        _context = ctx
