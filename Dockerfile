# syntax=docker/dockerfile:1
# Spot Guard agent image: multi-stage, production dependencies only, distroless non-root runtime,
# the compiled bundle started with plain `node` (no tsx, no npm at run time).
#
#   docker build -t <registry>/spot-guard:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/spot-guard:0.1.0 --push .

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# ---- build: compile src/ to dist/ exactly as `npm run build` does ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: no shell, no package manager; uid/gid 65532 (distroless "nonroot") ----
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
COPY --chown=0:0 bin ./bin
USER 65532:65532
# Probes (8080) and metrics (9092) when enabled; with host networking these are node ports.
EXPOSE 8080 9092
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["run"]
