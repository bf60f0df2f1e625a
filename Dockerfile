# Two stages. "build" installs the Python packages and bun and builds the page once, for
# the address users will reach (PUBLIC_URL). "runtime" is python slim with the packages
# and that build, without Node, bun or the test tools: every container of the image
# serves the same page (scripts/run.sh serves the build, never builds). Scale with more
# replicas of the image sharing PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); see
# deploy/compose.yaml and README "Deploying".
#
#   docker build --build-arg PUBLIC_URL=https://airtable.example.com -t pyairtable-ui .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       nodejs npm unzip ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt constraints.txt ./
COPY scripts/env.sh scripts/
# Runtime packages only: requirements-dev.txt (tests, linters) stays out of the image.
RUN python -m venv .venv \
    && .venv/bin/pip install --no-cache-dir --quiet -r requirements.txt -c constraints.txt
RUN bash -c '. scripts/env.sh && npm install --global --prefix "$TOOLS" --no-fund --no-audit \
    --loglevel=error "bun@$BUN_VERSION"'
COPY . .
# Baked into the page: where it opens its websocket, and which image hosts answers show.
ARG PUBLIC_URL=""
ARG REFLEX_API_URL=""
ARG ANSWER_IMAGE_HOSTS=""
ARG PORT=8000
RUN PUBLIC_URL="$PUBLIC_URL" REFLEX_API_URL="$REFLEX_API_URL" \
    ANSWER_IMAGE_HOSTS="$ANSWER_IMAGE_HOSTS" PORT="$PORT" bash scripts/build.sh

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 1000 app
WORKDIR /app
# The app writes .run/ (metrics of its workers) and, without DATABASE_URL, its SQLite file.
RUN chown app:app /app
COPY --from=build /app/.venv .venv
COPY --chown=app:app . .
# The page built above; its stamp (.web/build/source.key) matches this source.
COPY --from=build --chown=app:app /app/.web/build .web/build
USER app
# run.sh checks the build against these: give the runtime the values the page was built with.
ARG PUBLIC_URL=""
ARG REFLEX_API_URL=""
ARG ANSWER_IMAGE_HOSTS=""
ARG PORT=8000
ENV APP_ENV=production PORT=${PORT} PUBLIC_URL=${PUBLIC_URL} \
    REFLEX_API_URL=${REFLEX_API_URL} ANSWER_IMAGE_HOSTS=${ANSWER_IMAGE_HOSTS} \
    PYTHONUNBUFFERED=1
EXPOSE ${PORT}
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD [".venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/health\", timeout=4)"]
CMD ["bash", "scripts/run.sh"]
