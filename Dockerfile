# The gameday worker image (and CLI: `docker run IMAGE run plan.yaml …`).
#   docker build -t gameday .                                          official base (pulled from Docker Hub)
#   docker build --build-arg BASE=gameday-base:offline -t gameday .     base made offline (deploy/docker/offline-base.sh)
# BASE must be a Debian with node and npm in /usr/local/bin and a `node` user, as the official image has.
ARG BASE=node:20.20.2-bookworm-slim

# Build stage: every dependency, TypeScript compiled and the workflow bundle written (dist/workflow-bundle.js,
# so the worker starts in milliseconds instead of bundling at start-up). The tests are not compiled.
FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing the worker uses needs one (the Temporal SDK ships its native bridge; ssh2 falls
# back to JavaScript crypto without its optional binding), and it keeps the build the same on every npm.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The sources: .dockerignore lets through only what the worker is built from (tsconfig.json and its five dirs).
COPY . .
RUN npm run build && node dist/worker/workflowCode.js

# Runtime stage: production dependencies and dist/ only, owned by root and run as the unprivileged `node` user.
# No Temporal CLI (the worker connects with the SDK), no ssh client (SSH hosts are reached with ssh2), no tc,
# iptables or docker: faults act on SSH hosts and Kubernetes, and the worker's own container is no target
# (GAMEDAY_LOCAL_ENABLED=false in docker-compose.yml).
FROM ${BASE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "/app/dist/client/main.js"]
CMD ["worker"]
