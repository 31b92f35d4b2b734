# One image for every ytcollect process: workers (dramatiq), the scheduler (periodiq), the migration and
# the CLI (ytcollect). Configuration comes from the environment only (see .env.example): no .env file is
# copied in, so a developer's local settings never ship in an image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package is built from (pyproject.toml names README.md as its readme).
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY actors ./actors
COPY models ./models
COPY migrations ./migrations
COPY cli ./cli
COPY emulator ./emulator
RUN pip install . && python -c "import actors, cli"

# Never run as root; the embedded mode's SQLite directory (unused with DATABASE_URL) stays writable.
RUN useradd --create-home --uid 10001 ytcollect && mkdir -p /app/.ytcollect && chown ytcollect /app/.ytcollect
USER ytcollect

# Each compose service / Procfile entry gives its own command; alone, the image answers `doctor`.
CMD ["ytcollect", "doctor"]
