"""Error answers, as the real API words them.

The four bodies marked *verbatim* are copied byte for byte from ``shared/youtube-api.md`` (bodies
seen in the wild). The others follow the same envelope with the messages Google uses for them:
``status``/``details`` only on platform errors (keys, API enablement), never on YouTube's own.
"""

from __future__ import annotations

import json

# --- verbatim -------------------------------------------------------------------------------------
QUOTA_EXCEEDED = (
    b'{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your '
    b'\\u003ca href=\\"/youtube/v3/getting-started#quota\\"\\u003equota\\u003c/a\\u003e.","errors":[{"message":'
    b'"The request cannot be completed because you have exceeded your \\u003ca href=\\"/youtube/v3/'
    b'getting-started#quota\\"\\u003equota\\u003c/a\\u003e.","domain":"youtube.quota","reason":"quotaExceeded"}]}}'
)
API_KEY_INVALID = (
    b'{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","errors":[{"message":'
    b'"API key not valid. Please pass a valid API key.","domain":"global","reason":"badRequest"}],'
    b'"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":'
    b'"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"youtube.googleapis.com"}},{"@type":'
    b'"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. '
    b'Please pass a valid API key."}]}}'
)
PLAYLIST_NOT_FOUND = (
    b'{"error":{"code":404,"message":"The playlist identified with the request\'s \\u003ccode\\u003eplaylistId'
    b'\\u003c/code\\u003e parameter cannot be found.","errors":[{"message":"The playlist identified with the '
    b'request\'s \\u003ccode\\u003eplaylistId\\u003c/code\\u003e parameter cannot be found.","domain":'
    b'"youtube.playlistItem","reason":"playlistNotFound","location":"playlistId","locationType":"parameter"}]}}'
)
BACKEND_503 = (
    b'{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],'
    b'"code":503,"message":"Backend Error"}}'
)

# --- the same shapes for their siblings -------------------------------------------------------------
BACKEND_500 = (
    b'{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],'
    b'"code":500,"message":"Backend Error"}}'
)
MISSING_KEY = (
    b'{"error":{"code":403,"message":"The request is missing a valid API key.","errors":[{"message":'
    b'"The request is missing a valid API key.","domain":"global","reason":"forbidden"}],'
    b'"status":"PERMISSION_DENIED"}}'
)
RATE_LIMIT_403 = (
    b'{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your rate '
    b'limit. Please slow down and retry.","errors":[{"message":"The request cannot be completed because you '
    b'have exceeded your rate limit. Please slow down and retry.","domain":"youtube.quota","reason":'
    b'"rateLimitExceeded"}]}}'
)
USER_RATE_LIMIT_403 = (
    b'{"error":{"code":403,"message":"User Rate Limit Exceeded","errors":[{"message":"User Rate Limit Exceeded",'
    b'"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}'
)
RATE_LIMIT_429 = (
    b'{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","errors":[{"message":'
    b'"Resource has been exhausted (e.g. check quota).","domain":"global","reason":"rateLimitExceeded"}],'
    b'"status":"RESOURCE_EXHAUSTED"}}'
)
LOGIN_REQUIRED = (
    b'{"error":{"code":401,"message":"Request is missing required authentication credential. Expected OAuth 2 '
    b"access token, login cookie or other valid authentication credential. See https://developers.google.com/"
    b'identity/sign-in/web/devconsole-project.","errors":[{"message":"Login Required.","domain":"global",'
    b'"reason":"required","location":"Authorization","locationType":"header"}],"status":"UNAUTHENTICATED"}}'
)
PERMISSION_DENIED = (
    b'{"error":{"code":403,"message":"The caller does not have permission","errors":[{"message":'
    b'"The caller does not have permission","domain":"global","reason":"forbidden"}],"status":"PERMISSION_DENIED"}}'
)
NOT_FOUND = b'{"error":{"code":404,"message":"Not Found","errors":[{"message":"Not Found","domain":"global","reason":"notFound"}]}}'


def _dump(body: dict) -> bytes:
    """Compact JSON with ``<``, ``>`` and ``&`` escaped, as Google's front end writes its messages."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


def service_disabled(project_number: str) -> bytes:
    """403 ``accessNotConfigured``: the key's project has not enabled the YouTube Data API v3."""
    url = f"https://console.developers.google.com/apis/api/youtube.googleapis.com/overview?project={project_number}"
    message = (
        f"YouTube Data API v3 has not been used in project {project_number} before or it is disabled. "
        f"Enable it by visiting {url} then retry. If you enabled this API recently, wait a few minutes "
        "for the action to propagate to our systems and retry."
    )
    return _dump(
        {
            "error": {
                "code": 403,
                "message": message,
                "errors": [
                    {
                        "message": message,
                        "domain": "usageLimits",
                        "reason": "accessNotConfigured",
                        "extendedHelp": "https://console.developers.google.com",
                    }
                ],
                "status": "PERMISSION_DENIED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "SERVICE_DISABLED",
                        "domain": "googleapis.com",
                        "metadata": {
                            "consumer": f"projects/{project_number}",
                            "service": "youtube.googleapis.com",
                            "serviceTitle": "YouTube Data API v3",
                            "containerInfo": project_number,
                            "activationUrl": url,
                        },
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": message,
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.Help",
                        "links": [{"description": "Google developers console API activation", "url": url}],
                    },
                ],
            }
        }
    )


# The RPC method names Google's front end gives the API's methods (they appear in key errors).
_RPC_METHODS = {
    "channels.list": "youtube.api.v3.V3DataChannelService.List",
    "videos.list": "youtube.api.v3.V3DataVideoService.List",
    "playlists.list": "youtube.api.v3.V3DataPlaylistService.List",
    "playlistItems.list": "youtube.api.v3.V3DataPlaylistItemService.List",
    "search.list": "youtube.api.v3.V3DataSearchService.List",
    "videos.batchGetStats": "youtube.api.v3.V3DataVideoService.BatchGetStats",
}


def key_blocked(service_blocked: bool, method: str, project_number: str) -> bytes:
    """403 ``forbidden``: a key restricted to other APIs (``API_KEY_SERVICE_BLOCKED``) or to other
    websites (``API_KEY_HTTP_REFERRER_BLOCKED``)."""
    rpc = _RPC_METHODS[method]
    if service_blocked:
        message, reason = f"Requests to this API youtube method {rpc} are blocked.", "API_KEY_SERVICE_BLOCKED"
    else:
        message, reason = "Requests from referer <empty> are blocked.", "API_KEY_HTTP_REFERRER_BLOCKED"
    return _dump(
        {
            "error": {
                "code": 403,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": "forbidden"}],
                "status": "PERMISSION_DENIED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": reason,
                        "domain": "googleapis.com",
                        "metadata": {
                            "service": "youtube.googleapis.com",
                            "methodName": rpc,
                            "consumer": f"projects/{project_number}",
                        },
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": message,
                    },
                ],
            }
        }
    )


def quota_exceeded_in(bucket: str) -> bytes:
    """``quotaExceeded`` naming its bucket: the emulator's other reading of an assumed fact."""
    names = {"default": "the default quota", "search": "search.list calls", "video_stats": "video statistics"}
    message = (
        f"The request cannot be completed because you have exceeded your "
        f'<a href="/youtube/v3/getting-started#quota">quota</a> for {names[bucket]}.'
    )
    return _dump(
        {
            "error": {
                "code": 403,
                "message": message,
                "errors": [{"message": message, "domain": "youtube.quota", "reason": "quotaExceeded"}],
            }
        }
    )


def youtube_error(
    code: int,
    reason: str,
    message: str,
    *,
    domain: str = "youtube.parameter",
    location: str | None = None,
    location_type: str = "parameter",
) -> bytes:
    """One of YouTube's own errors (no ``status``, no ``details``)."""
    detail: dict = {"message": message, "domain": domain, "reason": reason}
    if location is not None:
        detail["location"] = location
        detail["locationType"] = location_type
    return _dump({"error": {"code": code, "message": message, "errors": [detail]}})


def required_parameter(name: str) -> bytes:
    return youtube_error(400, "required", f"Required parameter: {name}", domain="global", location=name)


def unknown_part(part: str) -> bytes:
    return youtube_error(400, "unknownPart", f"'{part}'", domain="youtube.part", location="part")


def no_filter(expected: str) -> bytes:
    return youtube_error(
        400, "missingRequiredParameter", f"No filter selected. Expected one of: {expected}", location=""
    )


def invalid_criteria(filters: str) -> bytes:
    return youtube_error(
        400,
        "invalidCriteria",
        f"A maximum of one of the following filters may be specified: {filters}. In case of content owner "
        "authentication via the onBehalfOfContentOwner parameter, only the id or managedByMe may be specified.",
        location="parameters.",
        location_type="other",
    )


def too_many_ids(count: int) -> bytes:
    return youtube_error(
        400,
        "invalidFilters",
        f"The request specifies an invalid filter parameter: {count} ids, at most 50 are allowed.",
        location="id",
    )


def invalid_range(name: str, value: str, low: int, high: int) -> bytes:
    return youtube_error(
        400,
        "invalidParameter",
        f"Invalid value '{value}'. Values must be within the range: [{low}, {high}]",
        domain="global",
        location=name,
    )


def invalid_page_token() -> bytes:
    return youtube_error(
        400, "invalidPageToken", "The request specifies an invalid page token.", location="pageToken"
    )


def invalid_fields(spec: str) -> bytes:
    """A ``fields`` value that is not a valid selection."""
    return youtube_error(
        400, "invalidParameter", f"Invalid field selection {spec}", domain="global", location="fields"
    )


def invalid_enum(name: str, value: str, allowed: tuple[str, ...]) -> bytes:
    """An enum parameter with a value it does not take (Google lists the values in lower case)."""
    listed = ", ".join(sorted(v.lower() for v in allowed))
    return youtube_error(
        400,
        "invalidParameter",
        f"Invalid string value: '{value}'. Allowed values: [{listed}]",
        domain="global",
        location=name,
    )


def invalid_search_filter() -> bytes:
    """A video-only search filter without ``type=video``, in the API's words."""
    return youtube_error(
        400,
        "invalidSearchFilter",
        "The request contains an invalid combination of search filters and/or restrictions. Note that you "
        "must set the <code>type</code> parameter to <code>video</code> if you set either the "
        "<code>forContentOwner</code> or <code>forMine</code> parameters to <code>true</code>. You must "
        "also set the <code>type</code> parameter to <code>video</code> if you set a value for the "
        "<code>eventType</code>, <code>videoCaption</code>, <code>videoCategoryId</code>, "
        "<code>videoDefinition</code>, <code>videoDimension</code>, <code>videoDuration</code>, "
        "<code>videoEmbeddable</code>, <code>videoLicense</code>, <code>videoSyndicated</code>, or "
        "<code>videoType</code> parameters.",
        domain="youtube.search",
        location="type",
    )


def invalid_time(name: str, value: str) -> bytes:
    """A ``publishedAfter``/``publishedBefore`` that is not an RFC 3339 date-time."""
    return youtube_error(
        400,
        "invalidParameter",
        f"Invalid value '{value}'. Expected an RFC 3339 formatted date-time value (1970-01-01T00:00:00Z).",
        domain="global",
        location=name,
    )


def unknown_parameter(name: str) -> bytes:
    """Google's front end refuses a query parameter the method does not declare."""
    message = (
        f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
        f"Field '{name}' could not be found in request message."
    )
    return _dump(
        {
            "error": {
                "code": 400,
                "message": message,
                "errors": [{"message": message, "reason": "invalid"}],
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"description": message}],
                    }
                ],
            }
        }
    )
