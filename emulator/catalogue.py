"""The synthetic catalogue: channels, their videos and playlists, deterministic from the seed.

Only what lookups need is built up front (handle, title, legacy username, custom-URL name and a few
flags per channel, in parallel lists and three dicts), so 100,000 channels start in about a second
and a few tens of MB. Everything else (descriptions, dates, statistics, videos, playlists) is drawn
on demand from a per-channel random stream, so it is the same whenever it is asked for.

Channel ``i`` is the same whatever the catalogue's size (generation is sequential from the seed),
so a sample taken with 2,000 channels still holds with 100,000.
"""

from __future__ import annotations

import base64
import math
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.ids import IdCodec

# Flags of a channel (a small int per channel).
TERMINATED = 1
HIDDEN = 2
NO_VIDEOS = 4

_EPOCH_2006 = datetime(2006, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_2024 = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
# Statistics are "as of" this instant at their drawn size, and grow linearly from publication on.
_STATS_REF = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
# Video publication dates are spread over a channel's life up to here.
_VIDEOS_UNTIL = datetime(2026, 10, 1, tzinfo=UTC).timestamp()

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
    n_videos: int
    n_playlists: int
    topics: tuple[str, ...]
    keywords: str
    made_for_kids: bool


@dataclass(frozen=True)
class VideoDetail:
    """The lazily drawn part of a video."""

    published: float
    title: str
    description: str
    duration: str  # ISO 8601, whole seconds, as videos.list shows it
    duration_millis: int
    view_rate: float
    like_ratio: float
    comment_ratio: float
    category: str
    tags: tuple[str, ...]
    definition: str
    caption: bool


class Catalogue:
    """Every channel of the emulator; lookups by id, handle, username, custom name, video, playlist."""

    def __init__(self, seed: int = 7, channels: int = 2000) -> None:
        if channels < 1 or channels >= 2**24:
            raise ValueError("channels must be between 1 and 16,777,215")
        self.seed = seed
        self.size = channels
        self.codec = IdCodec(seed)
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
        self._search_text: list[str] | None = None
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
                handle, title = self._latin_identity(rng)
            else:
                handle, title = self._other_identity(rng, script)
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
    def _latin_identity(rng: random.Random) -> tuple[str, str]:
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
        return handle[:30], title

    @staticmethod
    def _other_identity(rng: random.Random, script: str) -> tuple[str, str]:
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
        return handle, title

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
        """``(channel slot, number)`` of a public video of a live channel, else None."""
        slot = self.codec.video_slot(video_id)
        if slot is None or slot[0] >= self.size or not self.live(slot[0]):
            return None
        return slot if slot[1] < self.detail(slot[0]).n_videos else None

    def playlist_slot(self, playlist_id: str) -> tuple[int, int] | None:
        """``(channel slot, number)`` of a ``PL`` playlist of a live channel, else None."""
        slot = self.codec.playlist_slot(playlist_id)
        if slot is None or slot[0] >= self.size or not self.live(slot[0]):
            return None
        return slot if slot[1] < self.detail(slot[0]).n_playlists else None

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
        style = rng.randrange(4)
        if style == 0:
            description = ""
        elif style == 1:
            description = f"Welcome to {title}! New videos every week."
        elif style == 2:
            description = (
                f"{title}\n\nBusiness inquiries: contact via the About page.\n"
                f"Topics: {rng.choice(_TOPICS)}, {rng.choice(_TOPICS)} and more \u2728"
            )
        else:
            description = (
                f"{title} — {rng.choice(_TOPICS)} videos since {datetime.fromtimestamp(published, UTC).year}."
            )
        return ChannelDetail(
            published=published,
            published_millis=rng.random() < 0.3,
            description=description,
            country=country,
            thumb_token=_token(rng, 60),
            banner_token=_token(rng, 80),
            view_rate=views / age,
            sub_rate=subs / age,
            n_videos=n_videos,
            n_playlists=n_playlists,
            topics=tuple(rng.sample(_TOPIC_CATEGORIES, rng.randint(1, 3))),
            keywords=" ".join(rng.sample(_TOPICS, 3)),
            made_for_kids=rng.random() < 0.03,
        )

    def video_detail(self, index: int, number: int) -> VideoDetail:
        rng = random.Random(f"video:{self.seed}:{index}:{number}")
        channel = self.detail(index)
        span = max(_VIDEOS_UNTIL - channel.published, 86_400.0)
        published = channel.published + span * (number + rng.uniform(0.6, 0.95)) / (channel.n_videos + 1)
        topic = rng.choice(_TOPICS)
        minutes, seconds = rng.randint(0, 59), rng.randint(0, 59)
        hours = 1 if rng.random() < 0.05 else 0
        total = hours * 3600 + minutes * 60 + seconds
        views = 10 ** rng.uniform(1.0, 8.5)
        return VideoDetail(
            published=published,
            title=f"{topic.capitalize()} #{number + 1}: {rng.choice(_NAMES).capitalize()} tries {rng.choice(_TOPICS)}",
            description=f"Episode {number + 1} of {self.titles[index]}.\n#{topic}",
            duration=iso_duration(total),
            duration_millis=total * 1000,
            view_rate=views / max(_STATS_REF - published, 86_400.0),
            like_ratio=rng.uniform(0.005, 0.06),
            comment_ratio=rng.uniform(0.0005, 0.005),
            category=rng.choice(("10", "20", "22", "24", "26", "27", "28")),
            tags=tuple(rng.sample(_TOPICS, rng.randint(0, 4))),
            definition="hd" if rng.random() < 0.9 else "sd",
            caption=rng.random() < 0.2,
        )

    # --- statistics: a deterministic function of channel and time ----------------------------------
    def channel_counts(self, index: int, now: float) -> tuple[int, int, int]:
        """``(views, exact subscribers, videos)`` of a channel at ``now`` (epoch seconds)."""
        detail = self.detail(index)
        now -= now % 60  # statistics move once a minute: responses are cached that long
        age = max(0.0, now - detail.published)
        return int(detail.view_rate * age), int(detail.sub_rate * age), detail.n_videos

    def video_counts(self, index: int, number: int, now: float) -> tuple[int, int, int]:
        """``(views, likes, comments)`` of a video at ``now``."""
        video = self.video_detail(index, number)
        now -= now % 60
        views = int(video.view_rate * max(0.0, now - video.published))
        return views, int(views * video.like_ratio), int(views * video.comment_ratio)

    def playlist_videos(self, index: int, number: int) -> list[int]:
        """Video numbers in a ``PL`` playlist, in playlist order."""
        detail = self.detail(index)
        return [k for k in range(detail.n_videos) if k % detail.n_playlists == number]

    # --- ids ---------------------------------------------------------------------------------------
    def channel_id(self, index: int) -> str:
        return self.codec.channel_id(index)

    def video_ids(self, index: int) -> list[str]:
        """The channel's public videos, oldest first (a terminated channel's are listed, but answer nothing)."""
        return [self.codec.video_id(index, k) for k in range(self.detail(index).n_videos)]

    def playlist_ids(self, index: int) -> list[str]:
        return [self.codec.playlist_id(index, k) for k in range(self.detail(index).n_playlists)]

    # --- search ------------------------------------------------------------------------------------
    def search_channels(self, query: str) -> list[int]:
        """Live channels whose title, handle, custom name or username contain every query token.

        Exact handle or custom-name matches come first, then the rest by size: fuzzy, like the API.
        """
        if self._search_text is None:
            self._search_text = [
                fold(
                    " ".join(
                        filter(
                            None, (self.titles[i], self.handles[i], self.custom_names[i], self.usernames[i])
                        )
                    )
                )
                for i in range(self.size)
            ]
        tokens = [fold(token) for token in query.replace(",", " ").split() if fold(token)]
        texts = self._search_text
        hits = [i for i in range(self.size) if all(t in texts[i] for t in tokens) and self.live(i)]
        exact = {i for i in (self.index_of_handle(query), self.index_of_custom_name(query)) if i is not None}
        hits.sort(key=lambda i: (i not in exact, -self.detail(i).view_rate))
        return hits

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
            "video_ids": self.video_ids(index),
            "playlist_ids": self.playlist_ids(index),
            "uploads_playlist_id": "UU" + channel_id[2:],
            "terminated": bool(flags & TERMINATED),
            "hidden": bool(flags & HIDDEN),
            "no_videos": bool(flags & NO_VIDEOS),
            "country": self.detail(index).country,
            "script": self.scripts[index],
        }

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

    def by_custom_name(self, name: str) -> dict | None:
        index = self.index_of_custom_name(name)
        return None if index is None else self.entry(index)

    def video_owner(self, video_id: str) -> str | None:
        slot = self.video_slot(video_id)
        return None if slot is None else self.channel_id(slot[0])

    def playlist_owner(self, playlist_id: str) -> str | None:
        if playlist_id.startswith("UU"):
            index = self.index_of_id(playlist_id)
            return self.channel_id(index) if index is not None and self.live(index) else None
        slot = self.playlist_slot(playlist_id)
        return None if slot is None else self.channel_id(slot[0])

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
