"""What a planned run would cost in YouTube Data API units, worked out before any call is made.

The figures follow ``youtube-api.md``: every ``*.list`` call costs 1 unit whatever its parts, id
filters take up to 50 ids per call, ``forHandle``/``forUsername`` take one value per call, and
``search.list`` draws on a bucket of its own (100 calls a day, 1 per call), so searches are counted
apart from the units. Nothing is assumed to be cached, so this is what a fresh run would cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.inputs import InputKind, InputPlan

IDS_PER_CALL = 50
"""``channels.list?id=``, ``videos.list?id=`` and ``playlists.list?id=`` take up to 50 ids."""

LOOKUP_UNITS = 1
"""One ``channels.list`` call, ``forHandle`` or ``forUsername``; it brings the metadata parts too."""

SEARCH_CALLS_PER_DAY = 100
"""The search bucket: ``search.list`` calls a project may make per Pacific day (1 per call)."""


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """``1 handle``, ``2 handles``, ``1,234 videos``."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


def _calls(ids: int) -> int:
    """Calls needed for ``ids`` ids at 50 per call."""
    return -(-ids // IDS_PER_CALL)


@dataclass(frozen=True, slots=True)
class QuotaEstimate:
    """Per-kind job counts, the units each step costs, and the run's range of total units.

    ``min_units`` is the cheapest run: every custom URL found by ``forHandle`` and every video's and
    playlist's channel already met through another job. ``max_units_without_search`` is the dearest
    run that never searches; ``max_units_with_search`` lets every custom URL fall through to
    ``search.list``, which then costs ``search_calls_max`` calls of the search bucket besides.
    """

    channel_ids: int
    handles: int
    usernames: int
    custom_urls: int
    videos: int
    playlists: int
    invalid: int
    handle_units: int
    username_units: int
    video_units: int
    playlist_units: int
    # Channel ids that need a channels.list?id= metadata fetch, and what that fetch costs.
    metadata_ids_min: int
    metadata_ids_max: int
    metadata_ids_max_with_search: int
    metadata_units_min: int
    metadata_units_max: int
    metadata_units_max_with_search: int
    custom_url_units_min: int
    custom_url_units_max_without_search: int
    custom_url_units_max_with_search: int
    search_calls_max: int
    min_units: int
    max_units_without_search: int
    max_units_with_search: int
    breakdown: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the breakdown as a list)."""
        data = asdict(self)
        data["breakdown"] = list(self.breakdown)
        return data


def minimum_quota(plan: InputPlan) -> QuotaEstimate:
    """Estimate the units a run of ``plan``'s jobs costs, assuming nothing is cached yet.

    - 1 unit per unique handle and per unique username (one value per call). The lookup asks for
      ``snippet,statistics,contentDetails``, so the channels found this way need no metadata call.
    - ⌈videos/50⌉ and ⌈playlists/50⌉ calls to learn their channels.
    - ⌈ids/50⌉ metadata calls, where ids are the explicit channel ids, plus, at most, one channel
      per video and playlist (their channels are unknown before resolving: they may all be channels
      already in the list, or all different). Their count is therefore a range.
    - Custom URLs have no API filter: 1 unit when ``forHandle`` finds it, 2 when ``forUsername`` has
      to be tried too, then one ``search.list`` call of the search bucket (whose result then needs
      its metadata, in the default bucket).
    """
    counts = plan.jobs_by_kind()
    channel_ids = counts[InputKind.CHANNEL_ID]
    handles = counts[InputKind.HANDLE]
    usernames = counts[InputKind.USERNAME]
    custom_urls = counts[InputKind.CUSTOM_URL]
    videos = counts[InputKind.VIDEO]
    playlists = counts[InputKind.PLAYLIST]

    handle_units = handles * LOOKUP_UNITS
    username_units = usernames * LOOKUP_UNITS
    video_units = _calls(videos)
    playlist_units = _calls(playlists)
    ids_min = channel_ids
    ids_max = channel_ids + videos + playlists
    ids_max_search = ids_max + custom_urls  # search.list returns ids, not statistics
    custom_min = custom_urls * LOOKUP_UNITS
    custom_max = custom_urls * 2 * LOOKUP_UNITS
    custom_max_search = custom_max  # the searches themselves are counted in their own bucket

    fixed = handle_units + username_units + video_units + playlist_units
    min_units = fixed + _calls(ids_min) + custom_min
    max_units = fixed + _calls(ids_max) + custom_max
    max_units_search = fixed + _calls(ids_max_search) + custom_max_search

    lines = []
    if handles:
        lines.append(
            f"{_n(handles, 'handle')}: 1 channels.list?forHandle= each, metadata included = {handle_units:,}"
        )
    if usernames:
        lines.append(
            f"{_n(usernames, 'username')}: 1 channels.list?forUsername= each, metadata included = {username_units:,}"
        )
    if videos:
        lines.append(f"{_n(videos, 'video')}: videos.list, 50 ids per call = {video_units:,}")
    if playlists:
        lines.append(f"{_n(playlists, 'playlist')}: playlists.list, 50 ids per call = {playlist_units:,}")
    if ids_max:
        if ids_max == ids_min:
            lines.append(
                f"{_n(ids_min, 'channel id')} to fetch: channels.list?id=, 50 per call = {_calls(ids_min):,}"
            )
        else:
            lines.append(
                f"{ids_min:,} to {ids_max:,} channel ids to fetch (the {videos + playlists:,} video and playlist "
                f"channels are unknown until resolved): channels.list?id=, 50 per call = "
                f"{_calls(ids_min):,} to {_calls(ids_max):,}"
            )
    if custom_urls:
        lines.append(
            f"{_n(custom_urls, 'custom URL')}: {custom_min:,} if forHandle finds each, {custom_max:,} with "
            f"forUsername too; with --allow-search, up to {_n(custom_urls, 'search.list call')} more "
            f"(of the {SEARCH_CALLS_PER_DAY} a day in the search bucket)"
        )
    if counts[InputKind.INVALID]:
        lines.append(f"{_n(counts[InputKind.INVALID], 'invalid input')}: fail at once, 0 units")
    if min_units == max_units == max_units_search:
        lines.append(f"total: {_n(min_units, 'unit')}")
    else:
        lines.append(
            f"total: at least {min_units:,} units, at most {max_units:,} without search"
            + (f", {max_units_search:,} with search" if max_units_search != max_units else "")
        )

    return QuotaEstimate(
        channel_ids=channel_ids,
        handles=handles,
        usernames=usernames,
        custom_urls=custom_urls,
        videos=videos,
        playlists=playlists,
        invalid=counts[InputKind.INVALID],
        handle_units=handle_units,
        username_units=username_units,
        video_units=video_units,
        playlist_units=playlist_units,
        metadata_ids_min=ids_min,
        metadata_ids_max=ids_max,
        metadata_ids_max_with_search=ids_max_search,
        metadata_units_min=_calls(ids_min),
        metadata_units_max=_calls(ids_max),
        metadata_units_max_with_search=_calls(ids_max_search),
        custom_url_units_min=custom_min,
        custom_url_units_max_without_search=custom_max,
        custom_url_units_max_with_search=custom_max_search,
        search_calls_max=custom_urls,
        min_units=min_units,
        max_units_without_search=max_units,
        max_units_with_search=max_units_search,
        breakdown=tuple(lines),
    )
