"""The project's one root exception and the errors every layer shares.

Vendor exceptions (googleapiclient, redis, SQLAlchemy) are translated into these at the boundary
with ``raise ... from``; none of them may carry an API key in its message.
"""


class YtCollectError(Exception):
    """Root of every error ytcollect raises on purpose."""


class InvalidRequest(YtCollectError):
    """The caller asked for something malformed (too many inputs, an unknown option...)."""


class RunNotFound(YtCollectError):
    """No such run, or it belongs to another owner (the two are indistinguishable on purpose)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} not found")
        self.run_id = run_id


class AmbiguousRunId(InvalidRequest):
    """A run-id prefix more than one run's id starts with."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:5]) + (", …" if len(candidates) > 5 else "")
        super().__init__(f"run id prefix {prefix!r} matches several runs: {shown}; give more of the id")
        self.candidates = candidates


class ConfigurationError(YtCollectError):
    """The settings cannot work together (a half-configured process, a value out of range): one line."""


class WatchlistNotFound(YtCollectError):
    """No such watchlist for this owner (another owner's is "not found" too, on purpose)."""

    def __init__(self, ref: str) -> None:
        shown = ref if len(ref) <= 80 else ref[:77] + "..."  # one line, whatever was asked for
        super().__init__(f"watchlist {shown!r} not found")
        self.ref = ref


class CycleNotFound(YtCollectError):
    """No such discovery cycle, or it belongs to another owner."""

    def __init__(self, cycle_id: str) -> None:
        super().__init__(f"discovery cycle {cycle_id[:80]} not found")
        self.cycle_id = cycle_id
