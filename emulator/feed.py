"""The public channel feed, ``/feeds/videos.xml?channel_id=UC…``: Atom, no key, no quota.

As YouTube serves it: the channel's 15 newest published videos (Shorts included, premieres once
published), newest first, each with ``yt:videoId``, ``yt:channelId``, ``published``, ``updated``
and a ``media:group`` holding the title, thumbnail, description, star rating and view count. An
unknown or terminated channel is a 404 HTML page; a channel with no videos an empty feed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from emulator.catalogue import Catalogue

ENTRIES = 15
CONTENT_TYPE = b"text/xml; charset=UTF-8"
NOT_FOUND_HTML = (
    b"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>"
    b"<p><b>404.</b> <ins>That\xe2\x80\x99s an error.</ins><p>The requested URL was not found on this server. "
    b"<ins>That\xe2\x80\x99s all we know.</ins></html>"
)
SERVER_ERROR_HTML = (
    b"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 500 (Server Error)!!1</title>"
    b"<p><b>500.</b> <ins>That\xe2\x80\x99s an error.</ins><p>There was an error. Please try again later. "
    b"<ins>That\xe2\x80\x99s all we know.</ins></html>"
)


def _time(ts: float) -> str:
    """``2026-05-01T12:00:03+00:00``, the feed's timestamp shape."""
    return datetime.fromtimestamp(int(ts), UTC).isoformat()


def newest(catalogue: Catalogue, index: int, now: float) -> list[int]:
    """The channel's (up to) 15 newest videos published by ``now``, newest first.

    Walks the uploads from the newest and stops once no older upload can still be among them: a
    video is published at most a week after it was uploaded.
    """
    found: list[tuple[float, int]] = []
    for number in reversed(catalogue.uploads(index)):
        video = catalogue.video_detail(index, number)
        if len(found) >= ENTRIES and video.added + 7 * 86_400 < found[ENTRIES - 1][0]:
            break
        if video.published <= now:
            found.append((video.published, number))
            found.sort(key=lambda pair: -pair[0])
    return [number for _, number in found[:ENTRIES]]


def render(catalogue: Catalogue, index: int, now: float) -> bytes:
    """The Atom document of a live channel at ``now``."""
    channel_id = catalogue.channel_id(index)
    title = escape(catalogue.titles[index])
    channel_url = f"https://www.youtube.com/channel/{channel_id}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns="http://www.w3.org/2005/Atom">\n'
        f' <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={channel_id}"/>\n'
        f" <id>yt:channel:{channel_id}</id>\n"
        f" <yt:channelId>{channel_id}</yt:channelId>\n"
        f" <title>{title}</title>\n"
        f' <link rel="alternate" href="{channel_url}"/>\n'
        f" <author>\n  <name>{title}</name>\n  <uri>{channel_url}</uri>\n </author>\n"
        f" <published>{_time(catalogue.detail(index).published)}</published>\n"
    ]
    for number in newest(catalogue, index, now):
        video = catalogue.video_detail(index, number)
        video_id = catalogue.codec.video_id(index, number)
        views, likes, _ = catalogue.video_counts(index, number, now)
        # The entry was last touched a while after publication, never later than now.
        updated = min(now, video.published + 3600 + (number * 7919 % 86_400))
        video_title = escape(video.title)
        parts.append(
            " <entry>\n"
            f"  <id>yt:video:{video_id}</id>\n"
            f"  <yt:videoId>{video_id}</yt:videoId>\n"
            f"  <yt:channelId>{channel_id}</yt:channelId>\n"
            f"  <title>{video_title}</title>\n"
            f'  <link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>\n'
            f"  <author>\n   <name>{title}</name>\n   <uri>{channel_url}</uri>\n  </author>\n"
            f"  <published>{_time(video.published)}</published>\n"
            f"  <updated>{_time(updated)}</updated>\n"
            "  <media:group>\n"
            f"   <media:title>{video_title}</media:title>\n"
            f'   <media:content url="https://www.youtube.com/v/{video_id}?version=3" '
            'type="application/x-shockwave-flash" width="640" height="390"/>\n'
            f'   <media:thumbnail url="https://i1.ytimg.com/vi/{video_id}/hqdefault.jpg" width="480" height="360"/>\n'
            f"   <media:description>{escape(video.description)}</media:description>\n"
            "   <media:community>\n"
            f'    <media:starRating count={quoteattr(str(likes))} average="5.00" min="1" max="5"/>\n'
            f'    <media:statistics views="{views}"/>\n'
            "   </media:community>\n"
            "  </media:group>\n"
            " </entry>\n"
        )
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")
