# syntax=docker/dockerfile:1
# Multi-stage: dependencies are installed in a build stage; the runtime image
# holds production dependencies and sources only, and runs as the unprivileged
# `node` user. Node 24 runs the TypeScript sources directly (type stripping),
# so there is no compile step: what `npm start` runs is what ships.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev skips the `node` npm package (a Node 24 binary for machines whose
# system Node is older) and the test/bench tooling; the base image is Node 24.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY routes ./routes
COPY tools ./tools
COPY config ./config
# The API description (/openapi.json, /docs) and the browser console (/console).
COPY openapi.yaml ./
COPY public ./public
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Signals reach node directly (no npm in between), so SIGTERM drains runs.
# V8 flags as in `npm start` (package.json): a 16 MiB semi-space (see BENCHMARKS.md, scenario 7).
CMD ["node", "--max-semi-space-size=16", "src/server.ts"]
