"""A YouTube Data API v3 emulator, faithful to the wire format, used by the demo and the tests.

Serves ``/youtube/v3/{channels,videos,playlists,playlistItems,search}``,
``/youtube/v3/videos:batchGetStats`` and the public feed ``/feeds/videos.xml`` at the host root, as
google-api-python-client calls it (comma or repeated parameters, ``key=`` in the query, or the POST
form with ``X-HTTP-Method-Override: GET``), over a deterministic synthetic catalogue, with per-project
daily quota on Pacific days in three buckets (``default`` 10,000 units, ``search`` 100 calls,
``video_stats`` 10,000 units), injectable faults and latency, and an admin API under ``/_emulator/``
(which also adds uploads and removes videos as time goes by). Channels belong to niches whose
keywords their descriptions and videos carry, so ``search.list`` finds what a keyword would.

    from emulator import EmulatorConfig, EmulatorServer
    with EmulatorServer(EmulatorConfig(seed=7, keys=["k1"])) as emu:
        emu.base_url, emu.catalogue.sample(5), emu.usage()

Billing: a valid key pays its method's units, in the method's bucket, for every answer (400s and
404s included, injected 5xx, 429, 403 rate limits and dropped connections too); quota refusals and
bad keys cost nothing. See ``quota.py``.
"""

from emulator.app import Emulator
from emulator.catalogue import Catalogue, round_3_significant
from emulator.config import EmulatorConfig
from emulator.faults import KINDS as FAULT_KINDS
from emulator.ids import fingerprint
from emulator.server import EmulatorServer

__all__ = [
    "FAULT_KINDS",
    "Catalogue",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "fingerprint",
    "round_3_significant",
]
