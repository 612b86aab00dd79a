# syntax=docker/dockerfile:1
# Multi-stage: a build stage (with devDependencies) compiles src/, routes/ and
# tools/ to JavaScript in dist/ (`npm run build`, tsconfig.build.json); the
# runtime image holds production dependencies, dist/ and the files the service
# reads at run time, and runs as the unprivileged `node` user. It runs what
# `npm start` runs: the compiled `dist/src/server.js`, so Node's type stripper
# (~17 MiB of RSS once loaded) is never loaded.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` ends with `patch-package` (postinstall), which applies patches/ to
# the installed dependencies (docs/providers.md, "The openai client's patch").
COPY patches ./patches
# --omit=dev skips the `node` npm package (a Node 24 binary for machines whose
# system Node is older) and the build/test/bench tooling; the base image is Node 24.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Every dependency, devDependencies included: the build needs TypeScript.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY tools ./tools
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# "type": "module": dist/**/*.js are ES modules.
COPY package.json ./
COPY --from=build /app/dist ./dist
# TOOLS_DIR (default tools/): the .yaml tools load from here; the loader lists
# tools/bundle.ts here too and, the service running compiled, imports it from
# dist/tools/bundle.js (docs/writing-a-tool.md).
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
# As `npm start` (package.json) after its build: a 32 MiB semi-space, the old generation let grow to
# twice what survives a collection (not V8's up to 4x), and --expose-gc for the one memory-reducing
# collection at the end of start-up (src/server.ts). Why and measured: BENCHMARKS.md, scenario 7.
CMD ["node", "--max-semi-space-size=32", "--heap-growing-percent=50", "--expose-gc", "dist/src/server.js"]
