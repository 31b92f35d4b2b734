"""The HTTP API (FastAPI) and the dashboard: routes call ``pipeline`` and nothing else.

``create_app(ctx, send=...)`` builds the app on a pipeline Context and a message sender; ``ytcollect
serve`` wires both (embedded: an in-process worker; with BROKER_URL: RabbitMQ) and runs uvicorn.
"""

from api.app import create_app

__all__ = ["create_app"]
