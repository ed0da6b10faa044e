# socialdesk in a container: `socialdesk run` in HTTP mode on port 3000 (README "Run it for a team").
# One image for every replica; compose.yaml runs two of them on PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SOCIALDESK_HTTP_HOST=0.0.0.0 \
    SOCIALDESK_HTTP_PORT=3000

# A system user without a shell or home directory: the app writes only to its database.
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin socialdesk

WORKDIR /build
# Only what the package needs (see .dockerignore): every dependency has a wheel, so no compiler.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /build

# The working directory, the app's own: a `.env` may be mounted here, or a SQLite file kept (one
# container alone; replicas need PostgreSQL).
RUN mkdir /data && chown socialdesk:socialdesk /data
WORKDIR /data
USER socialdesk:socialdesk
EXPOSE 3000

# /healthz answers 200 when the database does, 503 otherwise (HTTP mode; Socket Mode serves no HTTP).
# The start period covers the migrations `run` applies first.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SOCIALDESK_HTTP_PORT', '3000'), timeout=4)"]

# `run` migrates the database first (replicas starting together wait for the one migrating:
# store.db.lock_for_migrations), then polls, publishes and serves Slack; SIGTERM stops it cleanly.
ENTRYPOINT ["socialdesk"]
CMD ["run"]
