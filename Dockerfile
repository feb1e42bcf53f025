# One Dockerfile for every image of the suite: build arg SERVICE names the service folder (and
# its console script); one image per service serves all its processes (web, relay, consumer,
# migrate). Build from the repository root, which holds shared/ and constraints.txt:
#   docker build --build-arg SERVICE=ticket-service --build-arg PORT=5001 \
#     -t ticket-triage/ticket-service .
# docker-compose.yml passes each service's arguments (`docker compose build` builds all five).
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtualenv with the pinned dependencies, support-shared and the service ---
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test -n "${SERVICE}" || (echo "build arg SERVICE is required" >&2 && exit 1)
RUN python -m venv /opt/venv
WORKDIR /build
COPY constraints.txt ./
COPY shared/ shared/
COPY ${SERVICE}/ ${SERVICE}/
# Non-editable install: the packages (and their Alembic migrations) land in site-packages.
RUN /opt/venv/bin/pip install -c constraints.txt ./shared ./${SERVICE}

# --- runtime: the virtualenv only, run as an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
# The port the web process listens on by default (the suite manifest's), for EXPOSE.
ARG PORT=5000
# The web process's health path: /health (the gateway: /api/health, every dependency's).
ARG HEALTH_PATH=/health
# Debian packages an image needs at run time, e.g. libgomp1: lightgbm (the AI service's
# boosters) links OpenMP's runtime, which the slim image lacks.
ARG SYSTEM_PACKAGES=
RUN if [ -n "${SYSTEM_PACKAGES}" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends ${SYSTEM_PACKAGES} \
        && rm -rf /var/lib/apt/lists/*; \
    fi
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
# The entrypoint is the service's console script, whatever the service.
RUN ln -s "/opt/venv/bin/${SERVICE}" /opt/venv/bin/service-entrypoint
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND_HOST=0.0.0.0 \
    SERVICE=${SERVICE} \
    HEALTH_PATH=${HEALTH_PATH}
USER 10001:10001
EXPOSE ${PORT}
# One check for every role, chosen by what PID 1 runs: the web process (gunicorn) must answer
# HEALTH_PATH with 200 on its port (<PREFIX>PORT, else the manifest's); a relay, consumer or
# migrate process has no HTTP port and reconnects to the broker by itself, so for those the
# check only says the process is alive (not stopped, not a zombie).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "\
import os, sys, urllib.request; \
web = b'gunicorn' in open('/proc/1/cmdline', 'rb').read(); \
from support_shared.manifest import SUITE; \
s = SUITE.service(os.environ['SERVICE']); \
port = os.environ.get(s.env_prefix + 'PORT') or s.port; \
web and urllib.request.urlopen('http://127.0.0.1:%s%s' % (port, os.environ['HEALTH_PATH']), timeout=4); \
sys.exit(0 if web else open('/proc/1/stat').read().rsplit(')', 1)[1].split()[0] in 'ZTt')"]
ENTRYPOINT ["service-entrypoint"]
CMD ["web"]
