# syntax=docker/dockerfile:1
# One image for every service of the monorepo. SERVICE names the workspace whose `start` script runs:
#   docker build --build-arg SERVICE=identity -t symbeon/identity .
#   docker run -e SERVICE=learning symbeon/identity     (the same image runs any service)
# docker-compose.yml builds it once per service with a different SERVICE; all layers but the last are shared.
# Production runs TypeScript through tsx, a devDependency: `npm ci --omit=dev` would drop it, so the
# dependencies stage installs everything and the runtime stage copies node_modules.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- dependencies: manifests only, so this layer is rebuilt when dependencies change, not when code does.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Every workspace's manifest (root package.json "workspaces"): npm ci needs them all to match the lockfile.
# tests/static/deployment.test.ts fails when a workspace is missing here.
COPY packages/kernel/package.json packages/kernel/
COPY gateway/package.json gateway/
COPY subgraphs/identity/package.json subgraphs/identity/
COPY subgraphs/learning/package.json subgraphs/learning/
COPY subgraphs/chain/package.json subgraphs/chain/
COPY subgraphs/certification/package.json subgraphs/certification/
COPY subgraphs/payments/package.json subgraphs/payments/
COPY contracts/package.json contracts/
COPY stack/package.json stack/
COPY tests/package.json tests/
COPY bench/package.json bench/
# Dependencies' install scripts stay off, as npm 11 does on developer machines: nothing needs them
# (esbuild's binary comes from its platform package).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    DATA_DIR=/app/.data
WORKDIR /app
# Workspace links (node_modules/@symbeon/* -> ../../<workspace>) are copied as links; the sources follow.
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# Code stays root-owned (read-only for the service). Only the embedded profile's data folder is writable:
# a container started without DATABASE_URL keeps PGlite there (mount a volume on it to keep the data).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node

# gateway (PORT), identity (IDENTITY_PORT), chain (CHAIN_PORT), certification (CERTIFICATION_PORT),
# payments (PAYMENTS_PORT), learning (LEARNING_PORT); each service listens on one of them.
EXPOSE 8000 8003 8004 8005 8006 8007

# Last, so that the layers above are shared by every service's image.
ARG SERVICE=gateway
ENV SERVICE=${SERVICE}

# Liveness: GET /health on the service's own port (deploy/docker-entrypoint.sh knows which), probed with
# node because the slim image has no curl. start-period covers tsx's first compile and migrations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "/app/deploy/docker-entrypoint.sh", "healthcheck"]

ENTRYPOINT ["sh", "/app/deploy/docker-entrypoint.sh"]
CMD ["start"]
