# syntax=docker/dockerfile:1
# One image for every CRM process: the seven gRPC services, the HTTP gateway, the web application
# (`python -m crm_web`, with its browser packages) and the `crm` tool.
# The process is chosen by the command, e.g. `python -m crm_contacts`; the default is the gateway.
# The root filesystem can be mounted read-only: nothing writes outside /tmp at run time.
#
#   docker build -t crm-platform:local .
#   docker run --rm crm-platform:local python -m crm_contacts

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the project (no dev extras) into a self-contained virtual environment ----
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/crm

WORKDIR /src
# Only what the package build reads; .dockerignore keeps the rest (and any secrets) out.
# README.m[d]: the readme named in pyproject.toml, copied when present (an unmatched wildcard
# is not an error), so the build does not depend on it.
COPY pyproject.toml README.m[d] ./
COPY libs ./libs
COPY services ./services

# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed. The cache
# mount only speeds up rebuilds; nothing from it lands in the image.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/crm/bin/pip install .

# ---- web-assets: the web application's browser packages (htmx, SortableJS, Chart.js) from its
# lockfile; the test-only ones (axe-core) are left out ---------------------------------------------
FROM node:20-bookworm-slim AS web-assets
WORKDIR /web
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: the same Python, the virtual environment, an unprivileged user -------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="crm-platform" \
      org.opencontainers.image.description="CRM services (gRPC + NATS JetStream) and their Flask gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 crm \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin crm

# Same base image in both stages, so the venv's interpreter links resolve unchanged. Its
# bytecode was compiled at install time, so nothing needs to write .pyc files later.
COPY --from=build /opt/crm /opt/crm
COPY --from=web-assets /web/node_modules /opt/crm/web/node_modules

# PYTHONSAFEPATH: `python -m` must not import from the working directory.
# HOME/TMPDIR/CRM_DATA_DIR: the only writable place is /tmp (tmpfs or emptyDir in production).
ENV PATH=/opt/crm/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONSAFEPATH=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    CRM_DATA_DIR=/tmp/crm-data \
    CRM_WEB_NODE_MODULES=/opt/crm/web/node_modules

# An empty, root-owned, read-only working directory.
WORKDIR /app

USER 10001:10001

# gateway HTTP; web application HTTP; services' gRPC; services' metrics.
EXPOSE 8080 8090 50051-50057 9101-9107

# No shell and no wrapper: the process is PID 1 and receives SIGTERM itself (the services
# report NOT_SERVING and drain; gunicorn stops its workers).
CMD ["python", "-m", "crm_gateway"]
