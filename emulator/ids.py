"""Identifiers of the right shape that decode back to the catalogue slot that owns them.

Real ids are random bytes in URL-safe base64: a channel id is ``UC`` + 16 bytes (22 characters, the
last in ``[AQgw]``), a video id 8 bytes (11 characters, the last in ``[AEIMQUYcgkosw048]``) and a
playlist id ``PL`` + 24 bytes (32 characters). Here the bytes are a small payload (the slot) masked
with, and authenticated by, a keyed BLAKE2b of the seed, so ids look random, are stable for a seed,
and need no lookup table: 100,000 channels and their million videos cost no memory until asked for.
"""

from __future__ import annotations

import base64
import hashlib
import struct


def fingerprint(key: str) -> str:
    """The short name of an API key: the first 8 hex characters of its SHA-256 (never the key)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str, size: int) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    return raw if len(raw) == size else None


class IdCodec:
    """Encodes catalogue slots as channel, video and playlist ids, and decodes them back."""

    def __init__(self, seed: int) -> None:
        self._key = hashlib.blake2b(f"ytcollect-emulator:{seed}".encode(), digest_size=32).digest()
        # Decoding is memoised: a hot channel id is decoded once, then it is a dict hit.
        self._memo: dict[str, object] = {}

    def _h(self, tag: bytes, data: bytes, size: int) -> bytes:
        return hashlib.blake2b(tag + data, digest_size=size, key=self._key).digest()

    def _seal(self, tag: bytes, payload: bytes, size: int) -> bytes:
        tail = self._h(tag, payload, size - len(payload))
        mask = self._h(tag + b"m", tail, len(payload))
        return bytes(a ^ b for a, b in zip(payload, mask, strict=True)) + tail

    def _open(self, tag: bytes, raw: bytes, payload_size: int) -> bytes | None:
        masked, tail = raw[:payload_size], raw[payload_size:]
        mask = self._h(tag + b"m", tail, payload_size)
        payload = bytes(a ^ b for a, b in zip(masked, mask, strict=True))
        return payload if self._h(tag, payload, len(tail)) == tail else None

    def _memoised(self, text: str, decode):  # type: ignore[no-untyped-def]
        hit = self._memo.get(text, self)
        if hit is not self:
            return hit
        value = decode(text)
        if len(self._memo) > 1_000_000:  # bounded: garbage ids must not grow memory forever
            self._memo.clear()
        self._memo[text] = value
        return value

    # --- channels: "UC" + 16 bytes ---------------------------------------------------------------
    def channel_id(self, index: int) -> str:
        return "UC" + _b64(self._seal(b"c", struct.pack(">I", index), 16))

    def channel_index(self, channel_id: str) -> int | None:
        """The slot of a channel id (``UC…``) or of its uploads playlist (``UU…``); None if foreign."""
        if len(channel_id) != 24 or channel_id[:2] not in ("UC", "UU"):
            return None
        return self._memoised("UC" + channel_id[2:], self._decode_channel)

    def _decode_channel(self, text: str) -> int | None:
        raw = _unb64(text[2:], 16)
        payload = raw and self._open(b"c", raw, 4)
        return struct.unpack(">I", payload)[0] if payload else None

    # --- videos: 8 bytes -------------------------------------------------------------------------
    def video_id(self, index: int, number: int) -> str:
        return _b64(self._seal(b"v", struct.pack(">IB", index, number)[1:], 8))

    def video_slot(self, video_id: str) -> tuple[int, int] | None:
        """``(channel slot, video number)`` of a video id, or None."""
        if len(video_id) != 11:
            return None
        return self._memoised("v:" + video_id, self._decode_video)

    def _decode_video(self, text: str) -> tuple[int, int] | None:
        raw = _unb64(text[2:], 8)
        payload = raw and self._open(b"v", raw, 4)
        if not payload:
            return None
        index, number = struct.unpack(">IB", b"\0" + payload)
        return index, number

    # --- playlists: "PL" + 24 bytes --------------------------------------------------------------
    def playlist_id(self, index: int, number: int) -> str:
        return "PL" + _b64(self._seal(b"p", struct.pack(">IB", index, number), 24))

    def playlist_slot(self, playlist_id: str) -> tuple[int, int] | None:
        """``(channel slot, playlist number)`` of a ``PL…`` id, or None."""
        if len(playlist_id) != 34 or not playlist_id.startswith("PL"):
            return None
        return self._memoised(playlist_id, self._decode_playlist)

    def _decode_playlist(self, text: str) -> tuple[int, int] | None:
        raw = _unb64(text[2:], 24)
        payload = raw and self._open(b"p", raw, 5)
        return struct.unpack(">IB", payload) if payload else None  # type: ignore[return-value]

    def etag(self, *parts: object) -> str:
        """A 27-character etag, as the API's, stable for the same inputs."""
        return _b64(self._h(b"e", "|".join(map(str, parts)).encode(), 20))[:27]
