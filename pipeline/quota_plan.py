"""What a planned run would cost in each YouTube Data API quota bucket, worked out before any call is made.

The figures follow ``youtube-api.md``: every ``*.list`` call costs 1 unit of the default bucket
whatever its parts, id filters take up to 50 ids per call, ``forHandle``/``forUsername`` take one
value per call, ``search.list`` draws on a bucket of its own (100 calls a day, 1 per call) and
``videos.batchGetStats`` on another (10,000 units, 50 videos a unit), so each bucket is counted apart.
Nothing is assumed to be cached, so this is what a fresh run would cost.
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


def _video_part(channels: int, recent_videos: int) -> int:
    """Default-bucket units of the video part: an uploads page per channel, titles 50 videos a call."""
    return channels + _calls(channels * recent_videos) if recent_videos else 0


def _span(low: int, high: int) -> str:
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


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
    # The video part (recent_videos > 0): one uploads page per channel and the new videos' titles
    # (default bucket), their statistics (video_stats bucket), counted as if each channel had at
    # least recent_videos public videos.
    recent_videos: int
    video_part_units_min: int
    video_part_units_max: int
    stats_units_min: int
    stats_units_max: int
    min_units: int
    max_units_without_search: int
    max_units_with_search: int
    breakdown: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the breakdown as a list)."""
        data = asdict(self)
        data["breakdown"] = list(self.breakdown)
        return data


def minimum_quota(plan: InputPlan, *, recent_videos: int = 0) -> QuotaEstimate:
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
    - With ``recent_videos`` = N > 0, per channel one ``playlistItems.list`` page, and for its N
      newest videos ⌈videos/50⌉ ``videos.list`` calls for titles (default bucket) and ⌈videos/50⌉
      ``videos.batchGetStats`` units (video_stats bucket), every channel's videos sharing batches.
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

    # Channels the run ends with: every handle, username, id and custom URL a channel of its own, and
    # the video and playlist owners among them (at least one) or all different.
    channels_min = channel_ids + handles + usernames + custom_urls
    if not channels_min and (videos or playlists):
        channels_min = 1
    channels_max = channel_ids + handles + usernames + custom_urls + videos + playlists
    video_part_min = _video_part(channels_min, recent_videos)
    video_part_max = _video_part(channels_max, recent_videos)
    stats_min = _calls(channels_min * recent_videos)
    stats_max = _calls(channels_max * recent_videos)

    fixed = handle_units + username_units + video_units + playlist_units
    min_units = fixed + _calls(ids_min) + custom_min + video_part_min
    max_units = fixed + _calls(ids_max) + custom_max + video_part_max
    max_units_search = fixed + _calls(ids_max_search) + custom_max_search + video_part_max

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
    if recent_videos and channels_max:
        lines.append(
            f"{recent_videos} recent videos per channel: 1 playlistItems.list per channel and titles by "
            f"videos.list, 50 per call = {_span(video_part_min, video_part_max)}; their statistics by "
            f"videos.batchGetStats, 50 per unit = {_span(stats_min, stats_max)} of the video_stats bucket"
        )
    if min_units == max_units == max_units_search:
        lines.append(f"default bucket: {_n(min_units, 'unit')}")
    else:
        lines.append(
            f"default bucket: at least {min_units:,} units, at most {max_units:,} without search"
            + (f", {max_units_search:,} with search" if max_units_search != max_units else "")
        )
    lines.append(
        f"search bucket: 0 calls; with --allow-search up to {_n(custom_urls, 'call')} "
        f"(of the {SEARCH_CALLS_PER_DAY} a day)"
        if custom_urls
        else "search bucket: 0 calls"
    )
    lines.append(f"video_stats bucket: {_span(stats_min, stats_max)} units")

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
        recent_videos=recent_videos,
        video_part_units_min=video_part_min,
        video_part_units_max=video_part_max,
        stats_units_min=stats_min,
        stats_units_max=stats_max,
        min_units=min_units,
        max_units_without_search=max_units,
        max_units_with_search=max_units_search,
        breakdown=tuple(lines),
    )
