# syntax=docker/dockerfile:1
# The gateway's image: build with the full toolchain, ship only what runs.
#   docker build -t secrets-gateway:0.1.0 .
# The runtime stage runs as a non-root user (uid 1000), writes nothing outside
# /tmp (mount a tmpfs or emptyDir there), and reads its configuration from
# SECRETS_GATEWAY_CONFIG (mount a file over it) and SECRETS_GATEWAY_* variables.
# The base is the same Node release as the `node` package pinned in package.json.
ARG NODE_IMAGE=node:24.21.0-slim

# ---- build: all dependencies, compile and bundle src/ to dist/ --------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no `prepare` before the sources are here, and no download of
# the pinned `node` package; the image's own Node runs the build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
# tsc, then esbuild: dist/cli.js is the gateway and most of its dependencies in one file.
RUN npm run build

# ---- deps: production dependencies only --------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# SECRETS_GATEWAY_STATE_DIR: where the gateway writes what it makes for itself when not configured
# (dev signing key, audit key and audit log); /tmp, as the root filesystem is read-only.
# DL3064 flags the word SECRETS in the names; the values are paths, not secrets.
# hadolint ignore=DL3064
ENV NODE_ENV=production \
    SECRETS_GATEWAY_CONFIG=/etc/secrets-gateway/config.yaml \
    SECRETS_GATEWAY_STATE_DIR=/tmp/secrets-gateway
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json openapi.json ./
COPY bin ./bin
COPY config ./config
# The image's own default: the environment backend, loopback only (right for a
# sidecar, which shares the pod's loopback). Mount a file over it to change it.
COPY config/container.yaml /etc/secrets-gateway/config.yaml
# The `node` user of the base image, by number so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
# API, and metrics when `metrics.port` is set.
EXPOSE 8080 9090
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SECRETS_GATEWAY_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# V8's memory flags, the same for `npm start` and bin/secrets-gateway.js (test/unit/node-flags.test.ts):
# the young generation capped at 16 MB per semi-space (V8 grows it to 64 MB while a cache fills, and
# keeps the pages) and the old generation grown by 20 % between full GCs: ~1/3 less RSS with a full
# cache, no measurable CPU on a cache hit (bench/optimization-log.md).
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=20", "dist/main.js"]
CMD ["serve"]
