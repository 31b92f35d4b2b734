"""``search.list`` over the catalogue: channels, videos and playlists matched by keyword.

A result matches when every query word occurs in its text (folded, as a substring, so ``cafe``
finds ``cafés`` and ``coffee`` finds ``#coffee``): a channel's title, handle, custom name,
username and description; a video's title and description (which names its channel); a
playlist's title and its channel's title. Relevance scores words found in the title, whole
words and the whole query as a phrase above the rest, then popularity, so the hits a person
would expect come first; ``order`` sorts by date, views, rating, title or video count instead.

To stay cheap on a large catalogue the channels are first narrowed with text known without
drawing anything (names, plus every word the channel's niche and the title templates can
produce); only those channels' videos are drawn and checked. Matches are cached per query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from emulator import niches
from emulator.catalogue import LIVE, Catalogue, fold

CHANNEL, VIDEO, PLAYLIST = "channel", "video", "playlist"
_WORD = re.compile(r"\w+")
# The fixed words of channel descriptions (see Catalogue._draw_detail).
_DESCRIPTION_TEXT = (
    "welcome to new videos every week and more business inquiries contact via the about page since"
)
_CACHE_LIMIT = 256
# Most of what a search shows is videos; a channel or a playlist has to match better to come first.
_KIND_WEIGHT = {VIDEO: 1.0, CHANNEL: 0.0, PLAYLIST: -2.0}


@dataclass(frozen=True)
class Hit:
    """One result: a channel (number -1), a video or a playlist of channel ``index``."""

    kind: str
    index: int
    number: int
    score: float


@dataclass(frozen=True)
class SearchQuery:
    """What ``search.list`` was asked, already validated."""

    q: str = ""
    types: tuple[str, ...] = (VIDEO, CHANNEL, PLAYLIST)
    channel: int | None = None  # channelId's slot (-1: a channel that does not exist)
    order: str = "relevance"
    published_after: float | None = None
    published_before: float | None = None
    video_filters: tuple[tuple[str, str], ...] = ()


class Searcher:
    """Finds, filters and orders search hits; keeps the last few hundred queries' matches."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.cat = catalogue
        self._names: list[str] | None = None
        self._vocabulary = {
            topic: niches.niche_text(topic) + " " + _DESCRIPTION_TEXT for topic in niches.KEYWORDS
        }
        self._cache: dict[tuple, list[Hit]] = {}

    def forget(self) -> None:
        """Drop cached matches (uploads were added or videos removed)."""
        self._cache.clear()

    def run(self, query: SearchQuery, now: float) -> list[Hit]:
        """Every hit of ``query`` at ``now``, in the order asked."""
        if query.channel == -1:
            return []
        hits = self._matches(query.q, query.types, query.channel)
        hits = [hit for hit in hits if self._passes(hit, query, now)]
        key = self._order_key(query.order, now)
        hits.sort(key=key)
        return hits

    # --- matching ------------------------------------------------------------------------------------
    def _matches(self, q: str, types: tuple[str, ...], channel: int | None) -> list[Hit]:
        tokens = tuple(
            dict.fromkeys(t for t in (fold(w.strip("\"'")) for w in q.replace(",", " ").split()) if t)
        )
        cache_key = (tokens, types, channel)
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        phrase = " ".join(tokens)
        cat = self.cat
        # A query that is exactly a channel's handle or custom-URL name puts that channel first.
        exact = {cat.index_of_handle(q.strip()), cat.index_of_custom_name(q.strip())} - {None}
        hits: list[Hit] = []
        for index in self._candidates(tokens, channel):
            detail = cat.detail(index)
            if CHANNEL in types:
                text = cat.search_text(index)
                if all(t in text for t in tokens):
                    score = _score(tokens, phrase, fold(cat.titles[index]), text) + (
                        20 if index in exact else 0
                    )
                    hits.append(Hit(CHANNEL, index, -1, score))
            if VIDEO in types:
                for number in cat.uploads(index):
                    video = cat.video_detail(index, number)
                    title = fold(video.title)
                    text = title + " " + fold(video.description)
                    if all(t in text for t in tokens):
                        hits.append(Hit(VIDEO, index, number, _score(tokens, phrase, title, text)))
            if PLAYLIST in types:
                for number in range(detail.n_playlists):
                    title = fold(cat.playlist_title(index, number))
                    text = title + " " + fold(cat.titles[index])
                    if all(t in text for t in tokens):
                        hits.append(Hit(PLAYLIST, index, number, _score(tokens, phrase, title, text)))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = hits
        return hits

    def _candidates(self, tokens: tuple[str, ...], channel: int | None) -> list[int]:
        """Live channels that could hold a match, judged without drawing their details."""
        cat = self.cat
        if channel is not None:
            return [channel] if cat.live(channel) else []
        names = self._names
        if names is None:
            names = self._names = [
                fold(
                    " ".join(
                        filter(None, (cat.titles[i], cat.handles[i], cat.custom_names[i], cat.usernames[i]))
                    )
                )
                for i in range(len(cat))
            ]
        vocabulary = self._vocabulary
        out = []
        for index in range(len(cat)):
            if not cat.live(index):
                continue
            words = vocabulary[cat.niche(index)]
            if all(t in names[index] or t in words for t in tokens):
                out.append(index)
        return out

    # --- filters and order -----------------------------------------------------------------------------
    def published(self, hit: Hit) -> float:
        cat = self.cat
        if hit.kind == VIDEO:
            return cat.video_detail(hit.index, hit.number).published
        if hit.kind == CHANNEL:
            return cat.detail(hit.index).published
        return cat.playlist_published(hit.index, hit.number)

    def _passes(self, hit: Hit, query: SearchQuery, now: float) -> bool:
        if query.published_after is not None or query.published_before is not None:
            published = self.published(hit)
            if query.published_after is not None and published < query.published_after:
                return False
            if query.published_before is not None and published >= query.published_before:
                return False
        if not query.video_filters:
            return True
        video = self.cat.video_detail(hit.index, hit.number)  # video filters imply type=video
        seconds = video.duration_millis / 1000
        for name, value in query.video_filters:
            value = value.lower()
            if value in ("any",) or value.endswith("unspecified"):
                continue
            if name == "videoDuration":
                size = "short" if seconds < 240 else "medium" if seconds <= 1200 else "long"
                if size != value:
                    return False
            elif name == "videoDefinition" and video.definition != ("hd" if value == "high" else "sd"):
                return False
            elif name == "videoCaption" and video.caption != (value == "closedcaption"):
                return False
            elif name == "videoCategoryId" and video.category != value:
                return False
            elif name == "eventType":
                upcoming = video.published > now
                state = "upcoming" if upcoming else "completed" if video.kind == LIVE else "none"
                if state != value:
                    return False
            elif name in ("videoType", "videoLicense", "videoPaidProductPlacement") or (
                name == "videoDimension" and value == "3d"
            ):
                return False  # no episodes, movies, Creative Commons, paid placements or 3D here
        return True

    def _order_key(self, order: str, now: float):  # type: ignore[no-untyped-def]
        cat = self.cat
        order = order.lower()

        def views(hit: Hit) -> int:
            if hit.kind == VIDEO:
                return cat.video_counts(hit.index, hit.number, now)[0]
            if hit.kind == PLAYLIST:
                return sum(
                    cat.video_counts(hit.index, k, now)[0] for k in cat.playlist_videos(hit.index, hit.number)
                )
            return cat.channel_counts(hit.index, now)[0]

        def relevance(hit: Hit) -> tuple:
            popularity = 0.25 * math.log10(1 + views(hit)) if hit.kind == VIDEO else 0.0
            return (-(hit.score + _KIND_WEIGHT[hit.kind] + popularity), hit.kind, hit.index, hit.number)

        if order == "date":
            return lambda hit: (-self.published(hit), hit.kind, hit.index, hit.number)
        if order == "viewcount":
            return lambda hit: (-views(hit), hit.kind, hit.index, hit.number)
        if order == "rating":

            def likes(hit: Hit) -> tuple:
                if hit.kind == VIDEO:
                    return (-cat.video_counts(hit.index, hit.number, now)[1], hit.kind, hit.index, hit.number)
                return (-cat.channel_counts(hit.index, now)[1], hit.kind, hit.index, hit.number)

            return likes
        if order == "title":
            return lambda hit: (fold(self.title(hit)), hit.kind, hit.index, hit.number)
        if order == "videocount":
            return lambda hit: (-(cat.video_count(hit.index) if hit.kind == CHANNEL else -1), *relevance(hit))
        return relevance

    def title(self, hit: Hit) -> str:
        cat = self.cat
        if hit.kind == VIDEO:
            return cat.video_detail(hit.index, hit.number).title
        if hit.kind == PLAYLIST:
            return cat.playlist_title(hit.index, hit.number)
        return cat.titles[hit.index]


def _score(tokens: tuple[str, ...], phrase: str, title: str, text: str) -> float:
    """Words in the title count most, whole words more than parts of words, the whole phrase most."""
    if not tokens:
        return 0.0
    title_words = set(_WORD.findall(title))
    text_words: set[str] | None = None
    score = 0.0
    for token in tokens:
        if token in title_words:
            score += 3
        elif token in title:
            score += 2
        else:
            if text_words is None:
                text_words = set(_WORD.findall(text))
            score += 1 if token in text_words else 0.5
    if len(tokens) > 1 and phrase in title:
        score += 4
    return score
