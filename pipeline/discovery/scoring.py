"""How strongly a found channel looks like a competitor: a derived metric, computed by ytcollect.

YouTube's derived-metrics policy allows scores like this one only when they are labelled as the
application's own, never as a YouTube figure: every place that shows a score shows ``SCORE_LABEL``
with it. Pure functions, no I/O.

The score is 0–100 points, in four parts a person can check:

- keywords (40): the share of the cycle's keywords whose search found the channel;
- videos (20): how many of its videos the searches found (10 or more give the full 20);
- size (20): subscribers on a log scale (10 million or more give the full 20; hidden counts give 0);
- views (20): views per video on a log scale (10 million or more give the full 20).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCORE_LABEL = "score computed by ytcollect from YouTube data (not a YouTube metric)"
_FULL_VIDEO_HITS = 10
_FULL_LOG10 = 7.0  # 10 million


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    keywords: float
    videos: float
    size: float
    views: float

    def parts(self) -> dict[str, float]:
        return {"keywords": self.keywords, "videos": self.videos, "size": self.size, "views": self.views}


def _log_share(value: int | float | None) -> float:
    if value is None or value <= 0:
        return 0.0
    return min(1.0, math.log10(1 + value) / _FULL_LOG10)


def score_channel(
    *,
    keywords_hit: int,
    keywords_searched: int,
    video_hits: int,
    subscribers: int | None,
    views: int | None,
    videos: int | None,
) -> Score:
    """The channel's score and its four parts, each rounded to one decimal."""
    keyword_points = 40.0 * min(1.0, keywords_hit / keywords_searched) if keywords_searched > 0 else 0.0
    video_points = 20.0 * min(1.0, max(0, video_hits) / _FULL_VIDEO_HITS)
    size_points = 20.0 * _log_share(subscribers)
    per_video = (views / videos) if views is not None and videos else None
    view_points = 20.0 * _log_share(per_video)
    parts = [round(p, 1) for p in (keyword_points, video_points, size_points, view_points)]
    return Score(round(sum(parts), 1), *parts)
