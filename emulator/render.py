"""Resource JSON, pre-serialized: a list answer is a join of cached item bytes.

An item is cached per (resource, slot, parts) together with the minute its statistics were drawn
for; statistics move once a minute, so a hot channel is serialized once a minute at most. The
caches are bounded (cleared when full), which costs a re-render, never a wrong answer.
"""

from __future__ import annotations

import json

from emulator.catalogue import HIDDEN, LIVE, LONG, SHORT, Catalogue, rfc3339, round_3_significant

CHANNEL_PARTS = (
    "auditDetails",
    "brandingSettings",
    "contentDetails",
    "contentOwnerDetails",
    "id",
    "localizations",
    "snippet",
    "statistics",
    "status",
    "topicDetails",
)
VIDEO_PARTS = (
    "contentDetails",
    "fileDetails",
    "id",
    "liveStreamingDetails",
    "localizations",
    "paidProductPlacementDetails",
    "player",
    "processingDetails",
    "recordingDetails",
    "snippet",
    "statistics",
    "status",
    "suggestions",
    "topicDetails",
)
PLAYLIST_PARTS = ("contentDetails", "id", "localizations", "player", "snippet", "status")
PLAYLIST_ITEM_PARTS = ("contentDetails", "id", "snippet", "status")
SEARCH_PARTS = ("id", "snippet")
STATS_PARTS = ("contentDetails", "id", "snippet", "statistics")

_CACHE_LIMIT = 60_000
_SHELF_TITLES = {SHORT: "Shorts", LONG: "Videos", LIVE: "Live streams"}
# Output order of a channel's parts (as the API orders them), with their bits in a part mask.
_CHANNEL_OUTPUT = tuple(
    (1 << CHANNEL_PARTS.index(name), name)
    for name in (
        "snippet",
        "contentDetails",
        "statistics",
        "topicDetails",
        "status",
        "brandingSettings",
        "contentOwnerDetails",
    )
)
_EMBED = (
    '<iframe width="{w}" height="{h}" src="//www.youtube.com/embed/{path}" frameborder="0" '
    'allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; '
    'web-share" referrerpolicy="strict-origin-when-cross-origin" allowfullscreen></iframe>'
)


def dumps(value: object) -> str:
    """Compact JSON with raw UTF-8, as the API sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def part_mask(parts: tuple[str, ...], wanted: list[str]) -> tuple[int, str | None]:
    """``(bit mask, None)`` for the requested parts, or ``(0, first unknown part)``."""
    mask = 0
    for name in wanted:
        try:
            mask |= 1 << parts.index(name)
        except ValueError:
            return 0, name
    return mask, None


def _has(mask: int, parts: tuple[str, ...], name: str) -> bool:
    return bool(mask & (1 << parts.index(name)))


class Renderer:
    """Builds (and caches) the JSON of channels, videos, playlists, playlist items and search hits."""

    def __init__(self, catalogue: Catalogue, hidden_subscriber_mode: str = "omit") -> None:
        self.cat = catalogue
        self.codec = catalogue.codec
        self.hidden_zero = hidden_subscriber_mode == "zero"
        self._items: dict[tuple, tuple[int, str, bytes]] = {}
        self._frags: dict[int, dict] = {}  # at most one per channel
        # Room for every channel in two part combinations: clearing a cache the traffic still needs
        # would re-render on every call (at 100,000 channels that is ~300 MB at most, in use).
        self._limit = max(_CACHE_LIMIT, 2 * len(catalogue))

    def _cached(self, key: tuple, minute: int, build) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
        hit = self._items.get(key)
        if hit is not None and hit[0] == minute:
            return hit[1], hit[2]
        etag, body = build()
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[key] = (minute, etag, body)
        return etag, body

    # --- channels ----------------------------------------------------------------------------------
    def channels(self, indices: list[int], mask: int, now: float) -> list[tuple[int, str, bytes]]:
        """``(minute, etag, item JSON)`` of live channels with the parts in ``mask``: the hot path."""
        minute = int(now // 60)
        items = self._items
        out = []
        for index in indices:
            key = (index, mask)  # channel keys are (int, int); every other resource's start with a str
            hit = items.get(key)
            if hit is None or hit[0] != minute:
                etag, body = self._channel(index, mask, minute)
                if len(items) >= self._limit:
                    items.clear()
                hit = items[key] = (minute, etag, body)
            out.append(hit)
        return out

    def _channel(self, index: int, mask: int, minute: int) -> tuple[str, bytes]:
        """Assemble an item from the channel's static fragments and this minute's statistics.

        Only ``statistics`` (and so the etag) changes with the clock; every other part is
        serialized once per channel, when first asked for, so the re-render every minute costs a
        few microseconds rather than a ``json.dumps``.
        """
        frags = self._frags.get(index)
        if frags is None:
            frags = self._frags[index] = {"id": self.cat.channel_id(index)}
        channel_id = frags["id"]
        etag = self.codec.etag("c", channel_id, mask, minute)
        pieces = [
            b'{"kind":"youtube#channel","etag":"',
            etag.encode(),
            b'","id":"',
            channel_id.encode(),
            b'"',
        ]
        for bit, name in _CHANNEL_OUTPUT:
            if mask & bit:
                if name == "statistics":
                    pieces.append(self._channel_statistics(index, minute))
                    continue
                fragment = frags.get(name)
                if fragment is None:
                    value = self._channel_part(index, channel_id, name)
                    fragment = frags[name] = f',"{name}":{dumps(value)}'.encode()
                pieces.append(fragment)
        pieces.append(b"}")
        return etag, b"".join(pieces)

    def _channel_statistics(self, index: int, minute: int) -> bytes:
        views, subs, videos = self.cat.channel_counts(index, minute * 60.0)
        if not self.cat.flags[index] & HIDDEN:
            shown = f'"subscriberCount":"{round_3_significant(subs)}","hiddenSubscriberCount":false'
        elif self.hidden_zero:
            shown = '"subscriberCount":"0","hiddenSubscriberCount":true'
        else:
            shown = '"hiddenSubscriberCount":true'
        return f',"statistics":{{"viewCount":"{views}",{shown},"videoCount":"{videos}"}}'.encode()

    def _channel_part(self, index: int, channel_id: str, name: str) -> dict:
        """One part of a channel that does not move with the clock."""
        cat, detail = self.cat, self.cat.detail(index)
        title = cat.titles[index]
        if name == "snippet":
            snippet: dict = {
                "title": title,
                "description": detail.description,
                "customUrl": "@" + cat.handles[index].lower(),
                "publishedAt": rfc3339(detail.published, detail.published_millis),
                "thumbnails": {
                    size: {
                        "url": f"https://yt3.ggpht.com/ytc/{detail.thumb_token}=s{px}-c-k-c0x00ffffff-no-rj",
                        "width": px,
                        "height": px,
                    }
                    for size, px in (("default", 88), ("medium", 240), ("high", 800))
                },
                "localized": {"title": title, "description": detail.description},
            }
            if detail.country:
                snippet["country"] = detail.country
            return snippet
        if name == "contentDetails":
            return {"relatedPlaylists": {"likes": "", "uploads": "UU" + channel_id[2:]}}
        if name == "topicDetails":
            return {"topicCategories": list(detail.topics)}
        if name == "status":
            return {
                "privacyStatus": "public",
                "isLinked": True,
                "longUploadsStatus": "longUploadsUnspecified",
                "madeForKids": detail.made_for_kids,
            }
        if name == "brandingSettings":
            branding: dict = {"title": title, "description": detail.description, "keywords": detail.keywords}
            if detail.country:
                branding["country"] = detail.country
            return {
                "channel": branding,
                "image": {"bannerExternalUrl": f"https://yt3.googleusercontent.com/{detail.banner_token}"},
            }
        assert name == "contentOwnerDetails"
        # auditDetails needs an OAuth scope and localizations are unset here: the API leaves both out.
        return {}

    # --- videos ------------------------------------------------------------------------------------
    def video(self, index: int, number: int, mask: int, now: float) -> tuple[str, bytes]:
        minute = int(now // 60)
        return self._cached(
            ("v", index, number, mask), minute, lambda: self._video(index, number, mask, minute)
        )

    def _video(self, index: int, number: int, mask: int, minute: int) -> tuple[str, bytes]:
        cat = self.cat
        video = cat.video_detail(index, number)
        video_id = self.codec.video_id(index, number)
        etag = self.codec.etag("v", video_id, mask, minute)
        item: dict = {"kind": "youtube#video", "etag": etag, "id": video_id}

        def has(name: str) -> bool:
            return _has(mask, VIDEO_PARTS, name)

        if has("snippet"):
            snippet: dict = {
                "publishedAt": rfc3339(video.published),
                "channelId": cat.channel_id(index),
                "title": video.title,
                "description": video.description,
                "thumbnails": self._video_thumbnails(video_id),
                "channelTitle": cat.titles[index],
            }
            if video.tags:
                snippet["tags"] = list(video.tags)
            snippet.update(
                {
                    "categoryId": video.category,
                    "liveBroadcastContent": "upcoming" if video.published > minute * 60 else "none",
                    "localized": {"title": video.title, "description": video.description},
                }
            )
            item["snippet"] = snippet
        if has("contentDetails"):
            item["contentDetails"] = {
                "duration": video.duration,
                "dimension": "2d",
                "definition": video.definition,
                "caption": str(video.caption).lower(),
                "licensedContent": True,
                "contentRating": {},
                "projection": "rectangular",
            }
        if has("status"):
            item["status"] = {
                "uploadStatus": "processed",
                "privacyStatus": "public",
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                "madeForKids": False,
            }
        if has("statistics"):
            views, likes, comments = cat.video_counts(index, number, minute * 60.0)
            item["statistics"] = {
                "viewCount": str(views),
                "likeCount": str(likes),
                "favoriteCount": "0",
                "commentCount": str(comments),
            }
        if has("player"):
            item["player"] = {"embedHtml": _EMBED.format(w=480, h=270, path=video_id)}
        if has("topicDetails"):
            item["topicDetails"] = {"topicCategories": list(cat.detail(index).topics)}
        if has("paidProductPlacementDetails"):
            item["paidProductPlacementDetails"] = {"hasPaidProductPlacement": False}
        # fileDetails, processingDetails and suggestions are owner-only; the others are unset here.
        return etag, dumps(item).encode()

    def video_stats(self, index: int, number: int, mask: int, now: float) -> tuple[str, bytes]:
        """A ``youtube#videoStats`` item of ``videos:batchGetStats``."""
        minute = int(now // 60)
        return self._cached(
            ("vs", index, number, mask), minute, lambda: self._video_stats(index, number, mask, minute)
        )

    def _video_stats(self, index: int, number: int, mask: int, minute: int) -> tuple[str, bytes]:
        cat = self.cat
        video = cat.video_detail(index, number)
        video_id = self.codec.video_id(index, number)
        etag = self.codec.etag("vs", video_id, mask, minute)
        item: dict = {"kind": "youtube#videoStats", "etag": etag, "id": video_id}
        if _has(mask, STATS_PARTS, "snippet"):
            item["snippet"] = {"publishTime": rfc3339(video.published)}
        if _has(mask, STATS_PARTS, "statistics"):
            views, likes, comments = cat.video_counts(index, number, minute * 60.0)
            item["statistics"] = {
                "viewCount": str(views),
                "likeCount": str(likes),
                "commentCount": str(comments),
            }
        if _has(mask, STATS_PARTS, "contentDetails"):
            item["contentDetails"] = {
                "duration": video.duration,
                "durationMillis": str(video.duration_millis),
            }
        return etag, dumps(item).encode()

    @staticmethod
    def _video_thumbnails(video_id: str) -> dict:
        sizes = (
            ("default", "default", 120, 90),
            ("medium", "mqdefault", 320, 180),
            ("high", "hqdefault", 480, 360),
            ("standard", "sddefault", 640, 480),
            ("maxres", "maxresdefault", 1280, 720),
        )
        return {
            name: {"url": f"https://i.ytimg.com/vi/{video_id}/{file}.jpg", "width": w, "height": h}
            for name, file, w, h in sizes
        }

    # --- playlists ---------------------------------------------------------------------------------
    def playlist(
        self, index: int, number: int | None, mask: int, now: float, shelf: str | None = None
    ) -> tuple[str, bytes]:
        """A ``PL`` playlist (``number``), or the channel's uploads playlist or one of its shelves
        (``UUSH``/``UULF``/``UULV``: ``shelf`` is the kind) when ``number`` is None."""
        minute = int(now // 60)
        return self._cached(
            ("p", index, number, mask, shelf), minute, lambda: self._playlist(index, number, mask, shelf)
        )

    def _playlist(self, index: int, number: int | None, mask: int, shelf: str | None) -> tuple[str, bytes]:
        cat, detail = self.cat, self.cat.detail(index)
        channel_id = cat.channel_id(index)
        if number is None:
            if shelf is None:
                playlist_id, videos = "UU" + channel_id[2:], cat.uploads(index)
                title = f"Uploads from {cat.titles[index]}"
            else:
                playlist_id, videos = cat.shelf_id(index, shelf) or "", cat.shelf(index, shelf)
                title = f"{_SHELF_TITLES[shelf]} from {cat.titles[index]}"
            description = ""
            published = detail.published
        else:
            playlist_id = self.codec.playlist_id(index, number)
            videos = cat.playlist_videos(index, number)
            title = cat.playlist_title(index, number)
            description = f"Playlist {number + 1} of {cat.titles[index]}."
            published = cat.playlist_published(index, number)
        etag = self.codec.etag("p", playlist_id, mask, len(videos))
        item: dict = {"kind": "youtube#playlist", "etag": etag, "id": playlist_id}

        def has(name: str) -> bool:
            return _has(mask, PLAYLIST_PARTS, name)

        if has("snippet"):
            first = self.codec.video_id(index, videos[-1]) if videos else None
            item["snippet"] = {
                "publishedAt": rfc3339(published),
                "channelId": channel_id,
                "title": title,
                "description": description,
                "thumbnails": self._video_thumbnails(first) if first else {},
                "channelTitle": cat.titles[index],
                "localized": {"title": title, "description": description},
            }
        if has("status"):
            item["status"] = {"privacyStatus": "public"}
        if has("contentDetails"):
            item["contentDetails"] = {"itemCount": len(videos)}
        if has("player"):
            item["player"] = {
                "embedHtml": _EMBED.format(w=640, h=360, path=f"videoseries?list={playlist_id}")
            }
        return etag, dumps(item).encode()

    # --- playlist items ----------------------------------------------------------------------------
    def playlist_item(
        self, playlist_id: str, position: int, index: int, number: int, mask: int, now: float
    ) -> tuple[str, bytes]:
        minute = int(now // 60)
        return self._cached(
            ("pi", index, playlist_id, position, number, mask),
            minute,
            lambda: self._playlist_item(playlist_id, position, index, number, mask),
        )

    def _playlist_item(
        self, playlist_id: str, position: int, index: int, number: int, mask: int
    ) -> tuple[str, bytes]:
        cat = self.cat
        video = cat.video_detail(index, number)
        video_id = self.codec.video_id(index, number)
        item_id = self.codec.etag("pi-id", playlist_id, video_id) + self.codec.etag("pi-id2", video_id)
        etag = self.codec.etag("pi", playlist_id, video_id, position, mask)
        item: dict = {"kind": "youtube#playlistItem", "etag": etag, "id": item_id[:48]}

        def has(name: str) -> bool:
            return _has(mask, PLAYLIST_ITEM_PARTS, name)

        if has("snippet"):
            item["snippet"] = {
                "publishedAt": rfc3339(video.added),  # when it joined the playlist
                "channelId": cat.channel_id(index),
                "title": video.title,
                "description": video.description,
                "thumbnails": self._video_thumbnails(video_id),
                "channelTitle": cat.titles[index],
                "playlistId": playlist_id,
                "position": position,
                "resourceId": {"kind": "youtube#video", "videoId": video_id},
                "videoOwnerChannelTitle": cat.titles[index],
                "videoOwnerChannelId": cat.channel_id(index),
            }
        if has("contentDetails"):
            item["contentDetails"] = {"videoId": video_id, "videoPublishedAt": rfc3339(video.published)}
        if has("status"):
            item["status"] = {"privacyStatus": "public"}
        return etag, dumps(item).encode()

    # --- search hits ---------------------------------------------------------------------------------
    def search_channel(self, index: int, mask: int) -> tuple[str, bytes]:
        return self._cached(("s", index, mask), 0, lambda: self._search_channel(index, mask))

    def _search_channel(self, index: int, mask: int) -> tuple[str, bytes]:
        cat, detail = self.cat, self.cat.detail(index)
        channel_id = cat.channel_id(index)
        etag = self.codec.etag("s", channel_id, mask)
        item: dict = {
            "kind": "youtube#searchResult",
            "etag": etag,
            "id": {"kind": "youtube#channel", "channelId": channel_id},
        }
        if _has(mask, SEARCH_PARTS, "snippet"):
            published = rfc3339(detail.published)
            item["snippet"] = {
                "publishedAt": published,
                "channelId": channel_id,
                "title": cat.titles[index],
                "description": detail.description[:160],
                "thumbnails": {
                    size: {
                        "url": f"https://yt3.ggpht.com/ytc/{detail.thumb_token}=s{px}-c-k-c0xffffffff-no-rj-mo"
                    }
                    for size, px in (("default", 88), ("medium", 240), ("high", 800))
                },
                "channelTitle": cat.titles[index],
                "liveBroadcastContent": "none",
                "publishTime": published,
            }
        return etag, dumps(item).encode()

    def search_video(self, index: int, number: int, mask: int, now: float) -> tuple[str, bytes]:
        minute = int(now // 60)  # an upcoming premiere turns "none" when it is published
        return self._cached(
            ("sv", index, number, mask), minute, lambda: self._search_video(index, number, mask, minute)
        )

    def _search_video(self, index: int, number: int, mask: int, minute: int) -> tuple[str, bytes]:
        cat = self.cat
        video = cat.video_detail(index, number)
        video_id = self.codec.video_id(index, number)
        etag = self.codec.etag("sv", video_id, mask)
        item: dict = {
            "kind": "youtube#searchResult",
            "etag": etag,
            "id": {"kind": "youtube#video", "videoId": video_id},
        }
        if _has(mask, SEARCH_PARTS, "snippet"):
            published = rfc3339(video.published)
            thumbs = self._video_thumbnails(video_id)
            item["snippet"] = {
                "publishedAt": published,
                "channelId": cat.channel_id(index),
                "title": video.title,
                "description": video.description[:160],
                "thumbnails": {size: thumbs[size] for size in ("default", "medium", "high")},
                "channelTitle": cat.titles[index],
                "liveBroadcastContent": "upcoming" if video.published > minute * 60 else "none",
                "publishTime": published,
            }
        return etag, dumps(item).encode()

    def search_playlist(self, index: int, number: int, mask: int) -> tuple[str, bytes]:
        return self._cached(
            ("sp", index, number, mask), 0, lambda: self._search_playlist(index, number, mask)
        )

    def _search_playlist(self, index: int, number: int, mask: int) -> tuple[str, bytes]:
        cat = self.cat
        playlist_id = self.codec.playlist_id(index, number)
        videos = cat.playlist_videos(index, number)
        etag = self.codec.etag("sp", playlist_id, mask)
        item: dict = {
            "kind": "youtube#searchResult",
            "etag": etag,
            "id": {"kind": "youtube#playlist", "playlistId": playlist_id},
        }
        if _has(mask, SEARCH_PARTS, "snippet"):
            published = rfc3339(cat.playlist_published(index, number))
            thumbs = self._video_thumbnails(self.codec.video_id(index, videos[-1])) if videos else {}
            item["snippet"] = {
                "publishedAt": published,
                "channelId": cat.channel_id(index),
                "title": cat.playlist_title(index, number),
                "description": f"Playlist {number + 1} of {cat.titles[index]}.",
                "thumbnails": {
                    size: thumbs[size] for size in ("default", "medium", "high") if size in thumbs
                },
                "channelTitle": cat.titles[index],
                "liveBroadcastContent": "none",
                "publishTime": published,
            }
        return etag, dumps(item).encode()

    # --- the public feed -------------------------------------------------------------------------------
    def feed(self, index: int, now: float, build) -> bytes:  # type: ignore[no-untyped-def]
        """The channel's feed document, built once a minute at most."""
        return self._cached(("f", index), int(now // 60), lambda: ("", build()))[1]

    # --- invalidation ----------------------------------------------------------------------------------
    def forget_all(self) -> None:
        self._items.clear()

    def forget_channel(self, index: int) -> None:
        """Drop every cached item of a channel whose uploads changed (counts, positions, playlists)."""
        for key in list(self._items):
            owner = key[0] if isinstance(key[0], int) else key[1]
            if owner == index:
                self._items.pop(key, None)
