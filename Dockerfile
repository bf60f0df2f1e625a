# One image runs the whole app (page, API, websocket) on one port; scale with more replicas
# sharing PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       make nodejs npm unzip curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 app
WORKDIR /app
COPY --chown=app:app requirements.txt requirements-dev.txt constraints.txt Makefile ./
COPY --chown=app:app scripts/ scripts/
USER app
RUN bash scripts/setup.sh

COPY --chown=app:app . .
# Build the page once at image build time so containers start fast.
RUN . scripts/env.sh && APP_ENV=development reflex export --frontend-only --no-zip --loglevel warning

ENV APP_ENV=production PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
CMD ["bash", "scripts/run.sh"]
