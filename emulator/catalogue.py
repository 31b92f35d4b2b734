"""The synthetic catalogue: channels, their videos and playlists, deterministic from the seed.

Only what lookups need is built up front (handle, title, legacy username, custom-URL name, niche and
a few flags per channel, in parallel lists and three dicts), so 100,000 channels start in about a
second and a few tens of MB. Everything else (descriptions, dates, statistics, videos, playlists) is
drawn on demand from per-channel and per-video random streams, so it is the same whenever it is
asked for.

Channel ``i`` is the same whatever the catalogue's size (generation is sequential from the seed),
so a sample taken with 2,000 channels still holds with 100,000.

Videos. A channel's history ends at the catalogue's *anchor* (the emulator's start instant): it
uploads every few days (its own cadence), the newest upload a little before the anchor, or long
before for dormant channels. About a third of uploads are Shorts (up to 60 s before 2024-10-15, up
to 180 s since), some are past live streams, a few long videos are premieres published hours or
days after they were uploaded, and 1 in 67 (never a channel's first) was removed before the anchor.
Views grow with the video's age on the clock, fast at first, and a Short's views count faster from
2025-03-31 (when a play started counting at its start). An overlay (``add_uploads``,
``remove_videos``, cleared by ``reset_overlay``) lets tests add uploads and remove videos later.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator import niches
from emulator.ids import IdCodec

# Flags of a channel (a small int per channel).
TERMINATED = 1
HIDDEN = 2
NO_VIDEOS = 4

_EPOCH_2006 = datetime(2006, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_2024 = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
# Channel statistics are "as of" this instant at their drawn size, and grow linearly from creation.
_STATS_REF = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
# The anchor of a catalogue built on its own (an emulator anchors at its clock's start).
DEFAULT_ANCHOR = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
SHORTS_UP_TO_180S = datetime(2024, 10, 15, tzinfo=UTC).timestamp()
SHORTS_VIEWS_BREAK = datetime(2025, 3, 31, tzinfo=UTC).timestamp()
_SHORTS_VIEWS_FACTOR = 1.6  # views accrue this much faster once a play counts at its start
_DAY = 86_400.0
_REMOVED_EVERY = 67  # one upload in 67 was removed before the anchor
_MAX_VIDEOS = 256  # a video id holds one byte of video number per channel
_MAX_PREMIERE_DELAY = 7 * _DAY
SHORT, LONG, LIVE = "short", "long", "live"
# Undocumented per-channel playlists: Shorts, long videos, past live streams (prefix -> kind).
SHELVES = {"UUSH": SHORT, "UULF": LONG, "UULV": LIVE}

_NAMES = (
    "anna mike sara tom lena omar kai nina leo maya raj ivy sam zoe eli noah lucas emma olivia liam "
    "carlos sofia diego marta pablo felix hugo jonas clara ines yusuf amir chloe ben jack ella finn "
    "rosa ali hana theo nora ravi aiko mateo luca paul greta oscar"
).split()
_TOPICS = (
    "tech cooking gaming music travel fitness science art diy cars beauty finance history math "
    "physics crafts garden pets comedy news reviews unboxing vlogs tutorials code chess film anime "
    "fishing woodwork baking yoga drones retro lego coffee camping piano guitar space"
).split()
_CATEGORIES = ("10", "20", "22", "24", "26", "27", "28")
_TOPIC_INDEX = {topic: number for number, topic in enumerate(_TOPICS)}
_SUFFIXES = (
    "tv hq official studio channel plays cooks builds talks lab daily world zone hub show live".split()
)

# Non-Latin handles and titles: (script, country choices, name words, topic words, joiner).
_SCRIPTS = {
    "ja": (
        ("JP",),
        "たなか さくら ゆうき はると あおい れん ひなた".split(),
        "ゲーム 料理 旅行 音楽 猫 実況 日常 科学 釣り 鉄道".split(),
        "の",
    ),
    "ru": (
        ("RU", "UA", "BY", "KZ"),
        "Иван Мария Олег Анна Дмитрий Ольга Сергей Наташа".split(),
        "Кухня Игры Наука Музыка Путешествия Авто Рыбалка Техника".split(),
        "",
    ),
    "ar": (
        ("SA", "EG", "AE", "MA", "JO"),
        "سارة أحمد يوسف مريم خالد ليلى".split(),
        "مطبخ ألعاب علوم سفر تقنية طبخ".split(),
        "_",
    ),
    "hi": (
        ("IN",),
        "राज प्रिया अमित सुनीता विकास अंजलि".split(),
        "रसोई संगीत विज्ञान यात्रा गेमिंग खेती".split(),
        "_",
    ),
    "ko": (("KR",), "민수 지은 서준 하은 도윤 수아".split(), "요리 게임 여행 음악 과학 일상".split(), "의"),
}
_SCRIPT_WEIGHTS = (("latin", 850), ("ja", 30), ("ru", 40), ("ar", 30), ("hi", 25), ("ko", 25))
_LATIN_COUNTRIES = (
    "US",
    "US",
    "US",
    "GB",
    "CA",
    "AU",
    "DE",
    "FR",
    "ES",
    "MX",
    "BR",
    "IT",
    "NL",
    "SE",
    "PL",
    "IN",
    "ID",
    "PH",
    "NG",
    "ZA",
    "AR",
    "TR",
    "IE",
    "NZ",
)
_TOPIC_CATEGORIES = (
    "https://en.wikipedia.org/wiki/Lifestyle_(sociology)",
    "https://en.wikipedia.org/wiki/Technology",
    "https://en.wikipedia.org/wiki/Video_game_culture",
    "https://en.wikipedia.org/wiki/Music",
    "https://en.wikipedia.org/wiki/Food",
    "https://en.wikipedia.org/wiki/Knowledge",
    "https://en.wikipedia.org/wiki/Entertainment",
    "https://en.wikipedia.org/wiki/Hobby",
)


def round_3_significant(count: int) -> int:
    """Round down to three significant figures, as the API shows subscriber counts (123,456 -> 123,000)."""
    if count < 1000:
        return count
    unit = 10 ** (len(str(count)) - 3)
    return count // unit * unit


def rfc3339(ts: float, millis: bool = False) -> str:
    """``2014-03-02T15:37:46Z`` (or with ``.372Z``), the API's timestamp shape."""
    moment = datetime.fromtimestamp(ts, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: int) -> str:
    """``PT1H2M3S`` (zero parts left out; ``PT0S`` for nothing), as the API writes durations."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")


def fold(text: str) -> str:
    """Case-insensitive key of a handle, username or custom name (NFC, Unicode casefold, no ``@``)."""
    return unicodedata.normalize("NFC", text.strip().removeprefix("@")).casefold()


def _token(rng: random.Random, size: int) -> str:
    """``size`` URL-safe base64 characters from the stream (one C call, not ``size`` choices)."""
    return base64.urlsafe_b64encode(rng.randbytes(size * 3 // 4 + 3)).decode("ascii")[:size]


@dataclass(frozen=True)
class ChannelDetail:
    """The lazily drawn part of a channel."""

    published: float
    published_millis: bool
    description: str
    country: str | None
    thumb_token: str
    banner_token: str
    view_rate: float  # views per second since publication
    sub_rate: float
    n_videos: int  # uploads before the anchor, removed ones included
    n_playlists: int
    topics: tuple[str, ...]
    keywords: str
    made_for_kids: bool
    # The upload schedule: the newest upload at ``last_upload``, one every ``cadence`` seconds before.
    last_upload: float
    cadence: float
    short_share: float
    live_share: float
    has_shelves: bool  # UUSH/UULF/UULV playlists exist (most channels)
    removal_offset: int

    @property
    def n_removed(self) -> int:
        """Uploads removed before the anchor: numbers k >= 1 with (k + offset) % 67 == 0."""
        first = (-self.removal_offset) % _REMOVED_EVERY or _REMOVED_EVERY
        return 0 if first >= self.n_videos else (self.n_videos - 1 - first) // _REMOVED_EVERY + 1


@dataclass(frozen=True)
class VideoDetail:
    """The lazily drawn part of a video."""

    added: float  # when it joined the uploads playlist
    published: float  # its publish time (later than ``added`` for a premiere)
    kind: str  # SHORT, LONG or LIVE
    title: str
    description: str
    duration: str  # ISO 8601, whole seconds, as videos.list shows it
    duration_millis: int
    views_scale: float  # the views it tends to
    views_tau: float  # seconds to reach half of them
    like_ratio: float
    comment_ratio: float
    category: str
    tags: tuple[str, ...]
    definition: str
    caption: bool

    @property
    def premiere(self) -> bool:
        return self.published > self.added + 3600

    def views(self, now: float) -> int:
        """Views at ``now``: none before publication, then V * age / (age + tau), Shorts faster from 2025-03-31."""
        if now <= self.published:
            return 0

        def grown(at: float) -> float:
            age = max(0.0, at - self.published)
            return self.views_scale * age / (age + self.views_tau)

        if self.kind != SHORT or now <= SHORTS_VIEWS_BREAK:
            return int(grown(now))
        before = grown(SHORTS_VIEWS_BREAK)
        return int(before + _SHORTS_VIEWS_FACTOR * (grown(now) - before))


class Catalogue:
    """Every channel of the emulator; lookups by id, handle, username, custom name, video, playlist."""

    def __init__(self, seed: int = 7, channels: int = 2000, anchor: float | None = None) -> None:
        if channels < 1 or channels >= 2**24:
            raise ValueError("channels must be between 1 and 16,777,215")
        self.seed = seed
        self.size = channels
        self.anchor = DEFAULT_ANCHOR if anchor is None else float(anchor)
        self.codec = IdCodec(seed)
        self._video_key = hashlib.blake2b(f"videos:{seed}".encode(), digest_size=32).digest()
        self.niches = bytearray(channels)  # index into _TOPICS of each channel's niche
        self.handles: list[str] = []
        self.titles: list[str] = []
        self.usernames: list[str | None] = []
        self.custom_names: list[str] = []
        self.scripts: list[str] = []
        self.flags = bytearray(channels)
        self._by_handle: dict[str, int] = {}
        self._by_username: dict[str, int] = {}
        self._by_custom: dict[str, int] = {}
        self._details: dict[int, ChannelDetail] = {}
        self.live_ids: dict[str, int] = {}  # memo of live_index()
        self._search_text: list[str] | None = None  # folded per channel, filled as searches need it
        self._videos: dict[tuple[int, int], VideoDetail] = {}
        self._uploads: dict[int, list[int]] = {}  # memo of uploads()
        self.reset_overlay()
        self._generate()

    def __len__(self) -> int:
        return self.size

    # --- generation ------------------------------------------------------------------------------
    def _generate(self) -> None:
        rng = random.Random(f"catalogue:{self.seed}")
        scripts = [name for name, _ in _SCRIPT_WEIGHTS]
        weights = [weight for _, weight in _SCRIPT_WEIGHTS]
        for index in range(self.size):
            script = rng.choices(scripts, weights)[0]
            if script == "latin":
                handle, title, topic = self._latin_identity(rng)
            else:
                handle, title, native = self._other_identity(rng, script)
                topic = niches.NATIVE_TOPICS[native]
            self.niches[index] = _TOPIC_INDEX[topic]
            handle = self._unique(handle, self._by_handle, rng, 30)
            self._by_handle[fold(handle)] = index

            username = None
            if rng.random() < 0.30:
                if script == "latin" and rng.random() < 0.5:
                    base = "".join(part.capitalize() for part in _split_words(handle))
                else:
                    base = (
                        rng.choice(_NAMES).capitalize()
                        + rng.choice(_TOPICS).capitalize()
                        + str(rng.randint(2005, 2016))
                    )
                username = self._unique(base[:20], self._by_username, rng, 20)
                self._by_username[fold(username)] = index

            custom = handle
            if rng.random() < 0.10:
                custom = (
                    title.replace(" ", "").replace("·", "")
                    if script == "latin"
                    else rng.choice(_NAMES).capitalize() + rng.choice(_TOPICS).capitalize()
                )
                custom += rng.choice(("Official", "TV", "Channel", "HQ", ""))
            custom = self._unique(custom, self._by_custom, rng, 40)
            self._by_custom[fold(custom)] = index

            flags = 0
            roll = rng.random()
            if roll < 0.02:
                flags |= TERMINATED
            elif roll < 0.07:
                flags |= NO_VIDEOS
            if rng.random() < 0.05:
                flags |= HIDDEN
            self.flags[index] = flags
            self.handles.append(handle)
            self.titles.append(title)
            self.usernames.append(username)
            self.custom_names.append(custom)
            self.scripts.append(script)

    @staticmethod
    def _latin_identity(rng: random.Random) -> tuple[str, str, str]:
        name, topic, suffix = rng.choice(_NAMES), rng.choice(_TOPICS), rng.choice(_SUFFIXES)
        pattern = rng.randrange(7)
        if pattern == 0:
            handle, title = f"{name}{topic}", f"{name.capitalize()} {topic.capitalize()}"
        elif pattern == 1:
            handle, title = f"{topic}with{name}", f"{topic.capitalize()} with {name.capitalize()}"
        elif pattern == 2:
            handle, title = f"{name}.{suffix}", f"{name.capitalize()} · {suffix.capitalize()}"
        elif pattern == 3:
            handle, title = f"{name}_{topic}", f"{name.capitalize()}'s {topic.capitalize()}"
        elif pattern == 4:
            handle = f"{name.capitalize()}{topic.capitalize()}{suffix.upper() if len(suffix) <= 2 else ''}"
            title = f"{name.capitalize()} {topic.capitalize()}"
        elif pattern == 5:
            handle, title = f"the{topic}{suffix}", f"The {topic.capitalize()} {suffix.capitalize()}"
        else:
            handle, title = f"{name}-{topic}", f"{name.capitalize()} | {topic.capitalize()}"
        if rng.random() < 0.3:
            handle += str(rng.choice((rng.randint(1, 99), rng.randint(1990, 2012))))
        return handle[:30], title, topic

    @staticmethod
    def _other_identity(rng: random.Random, script: str) -> tuple[str, str, str]:
        _, names, topics, joiner = _SCRIPTS[script]
        name, topic = rng.choice(names), rng.choice(topics)
        if script in ("ja", "ko"):
            handle, title = (
                f"{name}{joiner}{topic}",
                f"{name}{joiner}{topic}チャンネル" if script == "ja" else f"{name}{joiner} {topic}",
            )
        elif script == "ru":
            handle = f"{topic}{name}" if rng.random() < 0.5 else f"{topic.lower()}_{name.lower()}"
            title = f"{topic} {name}"
        else:
            handle, title = f"{topic}{joiner}{name}", f"{topic} {name}"
        return handle, title, topic

    @staticmethod
    def _unique(candidate: str, taken: dict[str, int], rng: random.Random, limit: int) -> str:
        value = candidate
        while fold(value) in taken:
            value = f"{candidate[: limit - 4]}{rng.randint(1, 9999)}"
        return value

    # --- lookups (None for terminated channels where the API would show nothing) -----------------
    def live(self, index: int) -> bool:
        return not self.flags[index] & TERMINATED

    def index_of_id(self, channel_id: str) -> int | None:
        """Slot of a channel id or uploads playlist id, terminated channels included."""
        index = self.codec.channel_index(channel_id)
        return index if index is not None and index < self.size else None

    def live_index(self, channel_id: str) -> int:
        """Slot of a live channel's ``UC`` id, else -1; memoised, as ``channels.list`` asks it 50 times a call."""
        found = self.live_ids.get(channel_id)
        if found is None:
            index = self.index_of_id(channel_id) if channel_id.startswith("UC") else None
            found = index if index is not None and self.live(index) else -1
            if len(self.live_ids) > 1_000_000:
                self.live_ids.clear()
            self.live_ids[channel_id] = found
        return found

    def index_of_handle(self, handle: str) -> int | None:
        return self._by_handle.get(fold(handle))

    def index_of_username(self, username: str) -> int | None:
        return self._by_username.get(fold(username))

    def index_of_custom_name(self, name: str) -> int | None:
        return self._by_custom.get(fold(name))

    def video_slot(self, video_id: str) -> tuple[int, int] | None:
        """``(channel slot, number)`` of a public video of a live channel, else None (removed ones too)."""
        slot = self.codec.video_slot(video_id)
        if slot is None or slot[0] >= self.size or not self.live(slot[0]):
            return None
        return slot if self.is_public(*slot) else None

    def playlist_slot(self, playlist_id: str) -> tuple[int, int] | None:
        """``(channel slot, number)`` of a ``PL`` playlist of a live channel, else None."""
        slot = self.codec.playlist_slot(playlist_id)
        if slot is None or slot[0] >= self.size or not self.live(slot[0]):
            return None
        return slot if slot[1] < self.detail(slot[0]).n_playlists else None

    def channel_playlist(self, playlist_id: str) -> tuple[int, str | None] | None:
        """``(channel slot, kind)`` of an uploads playlist (``UU…``: kind None) or a shelf (``UUSH…``: SHORT…)."""
        prefix = playlist_id[:4]
        if prefix in SHELVES and len(playlist_id) == 26:
            index = self.index_of_id("UU" + playlist_id[4:])
            return None if index is None else (index, SHELVES[prefix])
        if playlist_id.startswith("UU"):
            index = self.index_of_id(playlist_id)
            return None if index is None else (index, None)
        return None

    # --- lazily drawn details --------------------------------------------------------------------
    def detail(self, index: int) -> ChannelDetail:
        found = self._details.get(index)
        if found is None:
            found = self._draw_detail(index)
            if len(self._details) > max(200_000, self.size):
                self._details.clear()
            self._details[index] = found
        return found

    def _draw_detail(self, index: int) -> ChannelDetail:
        rng = random.Random(f"channel:{self.seed}:{index}")
        script = self.scripts[index]
        published = rng.uniform(_EPOCH_2006, _EPOCH_2024)
        # Views at the reference instant: log-uniform from 100 to ~40 billion, so some exceed 2^31.
        views = 10 ** rng.uniform(2.0, 10.6)
        subs = views / rng.uniform(80, 1500)
        age = _STATS_REF - published
        if self.flags[index] & NO_VIDEOS:
            n_videos = n_playlists = 0
        else:
            n_videos = max(1, min(200, int(math.exp(rng.uniform(0.0, 5.3)))))
            n_playlists = min(n_videos, rng.randint(1, 4))
        if rng.random() < 0.20:
            country = None
        elif script == "latin":
            country = rng.choice(_LATIN_COUNTRIES)
        else:
            country = rng.choice(_SCRIPTS[script][0])
        title = self.titles[index]
        topic = _TOPICS[self.niches[index]]
        phrases = rng.sample(niches.KEYWORDS[topic], 3)
        style = rng.randrange(4)
        if style == 0:
            description = ""
        elif style == 1:
            description = (
                f"Welcome to {title}! New {topic} videos every week: {phrases[0]}, {phrases[1]} and more."
            )
        elif style == 2:
            description = (
                f"{title}\n\n{phrases[0].capitalize()}, {phrases[1]} and {phrases[2]}.\n"
                "Business inquiries: contact via the About page. \u2728"
            )
        else:
            year = datetime.fromtimestamp(published, UTC).year
            description = (
                f"{title} — {topic} videos since {year}. {phrases[0].capitalize()} and {phrases[1]}."
            )
        published_millis = rng.random() < 0.3
        thumb_token, banner_token = _token(rng, 60), _token(rng, 80)
        topics = tuple(rng.sample(_TOPIC_CATEGORIES, rng.randint(1, 3)))
        made_for_kids = rng.random() < 0.03
        # The upload schedule: a cadence of half a day to three weeks; most channels uploaded within
        # a cadence of the anchor, some slowed down months ago, a few went dormant years ago.
        cadence = _DAY * 10 ** rng.uniform(math.log10(0.5), math.log10(21))
        activity = rng.random()
        if activity < 0.6:
            gap = rng.uniform(0, cadence)
        elif activity < 0.9:
            gap = rng.uniform(cadence, 180 * _DAY)
        else:
            gap = rng.uniform(180 * _DAY, 3 * 365 * _DAY)
        room = max(self.anchor - published - 3600, n_videos * 3600.0)
        gap = min(gap, room / 2)
        if n_videos:
            cadence = min(cadence, (room - gap) / (n_videos + 1))
        return ChannelDetail(
            published=published,
            published_millis=published_millis,
            description=description,
            country=country,
            thumb_token=thumb_token,
            banner_token=banner_token,
            view_rate=views / age,
            sub_rate=subs / age,
            n_videos=n_videos,
            n_playlists=n_playlists,
            topics=topics,
            keywords=" ".join(f'"{p}"' if " " in p else p for p in (topic, *phrases)),
            made_for_kids=made_for_kids,
            last_upload=self.anchor - gap,
            cadence=cadence,
            short_share=0.0 if rng.random() < 0.35 else rng.uniform(0.15, 0.85),
            live_share=rng.uniform(0.03, 0.25) if rng.random() < 0.12 else 0.0,
            has_shelves=rng.random() < 0.85,
            removal_offset=rng.randrange(_REMOVED_EVERY),
        )

    # --- videos ------------------------------------------------------------------------------------
    def _fraction(self, index: int, number: int, salt: int) -> float:
        """A cheap, well-spread number in [0, 1) for (channel, video, salt): no random stream needed."""
        x = (
            self.seed * 0x9E3779B1 + index * 0x85EBCA77 + number * 0xC2B2AE3D + salt * 0x27D4EB2F
        ) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
        x ^= x >> 12
        x = (x * 0x297A2D39) & 0xFFFFFFFF
        x ^= x >> 15
        return x / 2**32

    def upload_time(self, index: int, number: int) -> float:
        """When video ``number`` joined the channel's uploads playlist."""
        extra = self._extra_videos.get((index, number))
        if extra is not None:
            return extra.added
        detail = self.detail(index)
        steps = detail.n_videos - 1 - number
        return (
            detail.last_upload
            - steps * detail.cadence
            - 0.4 * detail.cadence * self._fraction(index, number, 1)
        )

    def video_kind(self, index: int, number: int) -> str:
        extra = self._extra_videos.get((index, number))
        if extra is not None:
            return extra.kind
        detail = self.detail(index)
        roll = self._fraction(index, number, 2)
        if roll < detail.short_share:
            return SHORT
        return LIVE if roll > 1 - detail.live_share else LONG

    def is_public(self, index: int, number: int) -> bool:
        """A video of the channel that has not been removed (before the anchor or later)."""
        if number in self._removed.get(index, ()):
            return False
        if number >= self.detail(index).n_videos:
            return (index, number) in self._extra_videos
        return number == 0 or (number + self.detail(index).removal_offset) % _REMOVED_EVERY != 0

    def uploads(self, index: int) -> list[int]:
        """The channel's public video numbers in upload order, oldest first."""
        found = self._uploads.get(index)
        if found is None:
            detail = self.detail(index)
            numbers = [k for k in range(detail.n_videos) if self.is_public(index, k)]
            extras = self._extra.get(index)
            if extras:
                numbers += [k for k in extras if self.is_public(index, k)]
                numbers.sort(key=lambda k: (self.upload_time(index, k), k))
            if len(self._uploads) > 100_000:
                self._uploads.clear()
            found = self._uploads[index] = numbers
        return found

    def removed_uploads(self, index: int) -> list[int]:
        """Numbers of the channel's videos that were removed (before the anchor or since)."""
        detail = self.detail(index)
        numbers = [*range(detail.n_videos), *self._extra.get(index, ())]
        return [k for k in numbers if not self.is_public(index, k)]

    def video_count(self, index: int) -> int:
        """Public videos of the channel now (``statistics.videoCount``)."""
        if index in self._extra or index in self._removed:
            return len(self.uploads(index))
        detail = self.detail(index)
        return detail.n_videos - detail.n_removed

    def shelf(self, index: int, kind: str) -> list[int]:
        """The channel's public videos of one kind (its UUSH/UULF/UULV playlist), oldest first."""
        return [k for k in self.uploads(index) if self.video_kind(index, k) == kind]

    def video_detail(self, index: int, number: int) -> VideoDetail:
        key = (index, number)
        found = self._extra_videos.get(key) or self._videos.get(key)
        if found is None:
            found = self._draw_video(
                index, number, self.upload_time(index, number), self.video_kind(index, number)
            )
            if len(self._videos) > 200_000:
                self._videos.clear()
            self._videos[key] = found
        return found

    def _draw_video(
        self, index: int, number: int, added: float, kind: str, delay: float | None = None
    ) -> VideoDetail:
        # 32 draws from one keyed hash rather than a seeded random.Random (several times dearer):
        # this runs for every video a search or a feed looks at.
        digest = hashlib.blake2b(
            struct.pack(">IB", index, number), digest_size=64, key=self._video_key
        ).digest()
        r = iter([x / 65536 for x in struct.unpack(">32H", digest)]).__next__
        topic = _TOPICS[self.niches[index]]
        phrases = niches.KEYWORDS[topic]
        count = len(phrases)
        first = int(r() * count)
        phrase, other = phrases[first], phrases[(first + 1 + int(r() * (count - 1))) % count]
        templates: tuple[str, ...]
        if kind == SHORT:
            limit = 180 if added >= SHORTS_UP_TO_180S else 60
            seconds = 8 + int(r() * (52 if r() < 0.7 else limit - 9))
            templates = niches.SHORT_TITLES
        elif kind == LIVE:
            seconds = 1800 + int(r() * 3.5 * 3600)
            templates = niches.LIVE_TITLES
        else:
            # Long-form: mostly 4 to 40 minutes, some over an hour, a few under 3 minutes (not Shorts).
            seconds = 61 + int(r() * 120) if r() < 0.05 else int(10 ** (2.4 + 1.3 * r()))
            templates = niches.LONG_TITLES
        text = templates[int(r() * len(templates))].format(k=phrase, K=phrase.capitalize(), o=other)
        if self.scripts[index] == "latin":
            title = text
        else:
            native = self.titles[index].split()[0]
            title = f"{native} {number + 1} | {text}"
        if delay is None:
            delay = 3600 + r() * (_MAX_PREMIERE_DELAY - 3600) if kind == LONG and r() < 0.08 else 0.0
        published = added + (delay or 5 + 115 * r())  # processing takes a minute or two
        views = 10 ** (2.0 + 5.5 * r() if kind == SHORT else 1.0 + 6.0 * r())
        description = (
            f"{phrase.capitalize()} — episode {number + 1} of {self.titles[index]}.\n\n"
            f"#{topic} #{phrase.replace(' ', '')}"
        )
        millis = seconds * 1000 + (int(r() * 1000) if kind != SHORT else 0)
        return VideoDetail(
            added=added,
            published=published,
            kind=kind,
            title=title,
            description=description,
            duration=iso_duration(seconds),
            duration_millis=millis,
            views_scale=views,
            views_tau=_DAY * (0.5 + 9.5 * r()),
            like_ratio=0.005 + 0.055 * r(),
            comment_ratio=0.0005 + 0.0045 * r(),
            category=_CATEGORIES[int(r() * len(_CATEGORIES))],
            tags=tuple(phrases[(first + j) % count] for j in range(int(r() * 4))),
            definition="hd" if r() < 0.9 else "sd",
            caption=r() < 0.2,
        )

    # --- the overlay: uploads and removals after the anchor ----------------------------------------
    def reset_overlay(self) -> None:
        """Forget every upload added and video removed since the start."""
        self._extra: dict[int, list[int]] = {}
        self._extra_videos: dict[tuple[int, int], VideoDetail] = {}
        self._removed: dict[int, set[int]] = {}
        self._uploads = {}
        self._search_text = None

    def add_uploads(
        self, index: int, at: float, count: int = 1, shorts: int = 0, scheduled_seconds: float = 0.0
    ) -> list[int]:
        """Upload ``count`` videos to a live channel at ``at`` (``shorts`` of them Shorts; the rest
        long, published ``scheduled_seconds`` later when given: premieres). Returns their numbers."""
        if not self.live(index):
            raise ValueError("a terminated channel cannot upload")
        if not 0 <= shorts <= count or count < 1:
            raise ValueError("count must be >= 1 and shorts between 0 and count")
        if scheduled_seconds < 0:
            raise ValueError("scheduled_seconds must be >= 0")
        extras = self._extra.setdefault(index, [])
        first = self.detail(index).n_videos + len(extras)
        if first + count > _MAX_VIDEOS:
            raise ValueError(f"a channel holds at most {_MAX_VIDEOS} videos in the emulator")
        numbers = list(range(first, first + count))
        for position, number in enumerate(numbers):
            kind = SHORT if position < shorts else LONG
            delay = scheduled_seconds if kind == LONG and scheduled_seconds else 0.0
            # One second apart, so their upload order is the order they were asked in.
            self._extra_videos[(index, number)] = self._draw_video(index, number, at + position, kind, delay)
        extras.extend(numbers)
        self._changed(index)
        return numbers

    def remove_video(self, index: int, number: int) -> bool:
        """Remove a public video (it answers nothing from then on); False if it was not public."""
        if not self.live(index) or not self.is_public(index, number):
            return False
        self._removed.setdefault(index, set()).add(number)
        self._changed(index)
        return True

    def has_overlay(self) -> bool:
        return bool(self._extra or self._removed)

    def entry_keywords(self, index: int) -> list[str]:
        return list(niches.KEYWORDS[self.niche(index)])

    def _changed(self, index: int) -> None:
        self._uploads.pop(index, None)
        self._search_text = None

    # --- statistics: a deterministic function of channel and time ----------------------------------
    def channel_counts(self, index: int, now: float) -> tuple[int, int, int]:
        """``(views, exact subscribers, videos)`` of a channel at ``now`` (epoch seconds)."""
        detail = self.detail(index)
        now -= now % 60  # statistics move once a minute: responses are cached that long
        age = max(0.0, now - detail.published)
        return int(detail.view_rate * age), int(detail.sub_rate * age), self.video_count(index)

    def video_counts(self, index: int, number: int, now: float) -> tuple[int, int, int]:
        """``(views, likes, comments)`` of a video at ``now``."""
        video = self.video_detail(index, number)
        views = video.views(now - now % 60)
        return views, int(views * video.like_ratio), int(views * video.comment_ratio)

    def playlist_videos(self, index: int, number: int) -> list[int]:
        """Video numbers in a ``PL`` playlist, in playlist order (uploads before the anchor only)."""
        detail = self.detail(index)
        return [k for k in self.uploads(index) if k < detail.n_videos and k % detail.n_playlists == number]

    def playlist_published(self, index: int, number: int) -> float:
        """When a ``PL`` playlist was made: as its first video joined the channel."""
        videos = self.playlist_videos(index, number)
        return self.upload_time(index, videos[0]) if videos else self.detail(index).published

    def playlist_title(self, index: int, number: int) -> str:
        topic = _TOPICS[self.niches[index]]
        rng = random.Random((self.seed << 40) ^ (index << 8) ^ number ^ (1 << 39))
        phrase = rng.choice(niches.KEYWORDS[topic])
        return rng.choice(niches.PLAYLIST_TITLES).format(k=phrase, K=phrase.capitalize())

    # --- ids ---------------------------------------------------------------------------------------
    def channel_id(self, index: int) -> str:
        return self.codec.channel_id(index)

    def video_ids(self, index: int) -> list[str]:
        """The channel's public videos in upload order, oldest first (a terminated channel's are listed, but answer nothing)."""
        return [self.codec.video_id(index, k) for k in self.uploads(index)]

    def playlist_ids(self, index: int) -> list[str]:
        return [self.codec.playlist_id(index, k) for k in range(self.detail(index).n_playlists)]

    def shelf_id(self, index: int, kind: str) -> str | None:
        """The id of the channel's Shorts, long-video or live playlist, or None when it has none."""
        if not self.detail(index).has_shelves or not self.shelf(index, kind):
            return None
        prefix = next(p for p, k in SHELVES.items() if k == kind)
        return prefix + self.channel_id(index)[2:]

    def niche(self, index: int) -> str:
        return _TOPICS[self.niches[index]]

    # --- search ------------------------------------------------------------------------------------
    def search_text(self, index: int) -> str:
        """What a search matches a channel on: title, handle, custom name, username, description (folded)."""
        texts = self._search_text
        if texts is None:
            texts = self._search_text = [""] * self.size
        text = texts[index]
        if not text:
            parts = (
                self.titles[index],
                self.handles[index],
                self.custom_names[index],
                self.usernames[index],
                self.detail(index).description,
            )
            text = texts[index] = fold(" ".join(filter(None, parts)))
        return text

    # --- the admin view ----------------------------------------------------------------------------
    def entry(self, index: int) -> dict:
        """One channel as ``GET /_emulator/catalogue`` lists it."""
        flags = self.flags[index]
        channel_id = self.channel_id(index)
        return {
            "id": channel_id,
            "handle": self.handles[index],
            "username": self.usernames[index],
            "custom_name": self.custom_names[index],
            "title": self.titles[index],
            "niche": self.niche(index),
            "keywords": self.entry_keywords(index),
            "video_ids": self.video_ids(index),
            "removed_video_ids": [self.codec.video_id(index, k) for k in self.removed_uploads(index)],
            "playlist_ids": self.playlist_ids(index),
            "uploads_playlist_id": "UU" + channel_id[2:],
            "shorts_playlist_id": self.shelf_id(index, SHORT),
            "long_playlist_id": self.shelf_id(index, LONG),
            "live_playlist_id": self.shelf_id(index, LIVE),
            "terminated": bool(flags & TERMINATED),
            "hidden": bool(flags & HIDDEN),
            "no_videos": bool(flags & NO_VIDEOS),
            "country": self.detail(index).country,
            "script": self.scripts[index],
        }

    def videos(self, index: int, now: float) -> list[dict]:
        """The channel's public uploads, newest first, as ``GET /_emulator/videos`` lists them."""
        out = []
        for number in reversed(self.uploads(index)):
            video = self.video_detail(index, number)
            views, likes, comments = self.video_counts(index, number, now)
            out.append(
                {
                    "id": self.codec.video_id(index, number),
                    "title": video.title,
                    "added_at": rfc3339(video.added),
                    "published_at": rfc3339(video.published),
                    "kind": video.kind,
                    "short": video.kind == SHORT,
                    "premiere": video.premiere,
                    "duration": video.duration,
                    "duration_seconds": video.duration_millis // 1000,
                    "views": views,
                    "likes": likes,
                    "comments": comments,
                }
            )
        return out

    def sample(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Channels in catalogue order from ``offset``, terminated ones included (and flagged)."""
        start = max(0, offset)
        return [self.entry(i) for i in range(start, min(self.size, start + max(0, limit)))]

    def find(self, limit: int = 10, **criteria: object) -> list[dict]:
        """Entries whose fields equal ``criteria`` (``find(no_videos=True, terminated=False)``).

        Also accepts ``has_username=bool`` and ``custom_differs=bool``.
        """
        found = []
        for index in range(self.size):
            flags = self.flags[index]
            facts = {
                "handle": self.handles[index],
                "username": self.usernames[index],
                "custom_name": self.custom_names[index],
                "title": self.titles[index],
                "terminated": bool(flags & TERMINATED),
                "hidden": bool(flags & HIDDEN),
                "no_videos": bool(flags & NO_VIDEOS),
                "script": self.scripts[index],
                "niche": self.niche(index),
                "has_username": self.usernames[index] is not None,
                "custom_differs": fold(self.custom_names[index]) != fold(self.handles[index]),
            }
            # Cheap facts first; the full entry (ids, drawn details) only for candidates.
            if any(k in facts and facts[k] != v for k, v in criteria.items()):
                continue
            entry = self.entry(index)
            if all(entry.get(k) == v for k, v in criteria.items() if k not in facts):
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def channel(self, channel_id: str) -> dict | None:
        """The entry of a channel id (terminated ones included), else None."""
        index = self.index_of_id(channel_id)
        return self.entry(index) if index is not None and channel_id.startswith("UC") else None

    def by_handle(self, handle: str) -> dict | None:
        index = self.index_of_handle(handle)
        return None if index is None else self.entry(index)

    def by_username(self, username: str) -> dict | None:
        index = self.index_of_username(username)
        return None if index is None else self.entry(index)

    def statistics(self, channel_id: str, now: datetime) -> dict[str, int] | None:
        """Exact counts of a channel at ``now`` (before the API's rounding), for tests and operators."""
        index = self.index_of_id(channel_id)
        if index is None:
            return None
        views, subs, videos = self.channel_counts(index, now.timestamp())
        return {"viewCount": views, "subscriberCount": subs, "videoCount": videos}


def _split_words(handle: str) -> list[str]:
    """``anna_cooking2009`` -> ``["anna", "cooking2009"]``; camel case is kept as one word."""
    for sep in "._-·":
        handle = handle.replace(sep, " ")
    return handle.split() or [handle]
