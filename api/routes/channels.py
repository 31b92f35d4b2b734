"""``/v1/channels`` and ``/v1/videos``: what the caller's runs found, with its history."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from api.deps import Caller, State
from api.routes.common import checked_id, errors
from api.schemas import Channel, ChannelHistory, ChannelVideos, VideoMetrics
from pipeline import channels

router = APIRouter(tags=["channels and videos"], responses=errors(401, 404))
Interval = Literal["day", "week", "month"]
VideoInterval = Literal["hour", "day", "week", "month"]


def _scope(principal: Caller) -> str:
    # Owner-scoped even for admins: an admin's token sees its own owner's channels, like its runs.
    return principal.owner_id


@router.get("/v1/channels/{channel_id}", response_model=Channel)
def get_channel(channel_id: str, principal: Caller, state: State) -> dict[str, object]:
    """A channel one of the caller's runs found: its latest metadata and statistics."""
    try:
        return channels.get_channel(state.ctx, checked_id(channel_id, "channel"), owner_id=_scope(principal))
    except channels.ChannelNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/v1/channels/{channel_id}/history", response_model=ChannelHistory, responses=errors(422))
def get_channel_history(
    channel_id: str,
    principal: Caller,
    state: State,
    since: Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")] = None,
    interval: Interval = "day",
) -> dict[str, object]:
    """The channel's subscribers, views and videos over time: the last snapshot of each period."""
    try:
        return channels.get_channel_history(
            state.ctx,
            checked_id(channel_id, "channel"),
            owner_id=_scope(principal),
            since=since,
            interval=interval,
        )
    except channels.ChannelNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/v1/channels/{channel_id}/videos", response_model=ChannelVideos)
def get_channel_videos(
    channel_id: str, principal: Caller, state: State, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, object]:
    """The channel's stored videos (recent uploads and tracked ones), newest first, with their counts."""
    try:
        return channels.channel_videos(
            state.ctx, checked_id(channel_id, "channel"), owner_id=_scope(principal), limit=limit
        )
    except channels.ChannelNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/v1/videos/{video_id}/metrics", response_model=VideoMetrics, responses=errors(422))
def get_video_metrics(
    video_id: str,
    principal: Caller,
    state: State,
    days: Annotated[int, Query(ge=1, le=3_650)] = 30,
    interval: VideoInterval = "day",
) -> dict[str, object]:
    """A video's views, likes and comments over time, the last read of each interval, with growth."""
    try:
        return channels.video_metrics(
            state.ctx, checked_id(video_id, "video"), owner_id=_scope(principal), days=days, interval=interval
        )
    except channels.VideoNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.post(
    "/v1/videos/{video_id}/track", status_code=202, response_model=VideoMetrics, responses=errors(409)
)
def track_video(video_id: str, principal: Caller, state: State) -> dict[str, object]:
    """Follow a video from now on (polled past the age cap); answers its first counts."""
    try:
        return channels.track_video(state.ctx, checked_id(video_id, "video"), owner_id=_scope(principal))
    except channels.VideoNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
