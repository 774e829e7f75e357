# syntax=docker/dockerfile:1
# The Tether agent image: `docker build -t tether .` at the repo root. The final stage holds node, the `tether`
# bundle — dist/ from scripts/build.mjs: the entry tether.mjs, the parse worker's entry and the chunks both load, every
# runtime dependency inlined by esbuild — and the two renderers: no node_modules, no TypeScript loader, no sources.
ARG NODE_VERSION=20

# 1. The bundle: all dependencies (esbuild is a dev one), then scripts/build.mjs. `--ignore-scripts` so that the
# `prepare` build runs once, below, after the sources are copied.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.mjs ./scripts/
COPY cli ./cli
COPY shared/src ./shared/src
COPY agent/src ./agent/src
RUN node scripts/build.mjs tether && node dist/tether.mjs --version

# 2. The renderers the agent runs for kustomize and Helm apps (agent/src/edges/render/render.ts looks them up on PATH; plain
# manifests need neither). Git needs no binary: the agent fetches with isomorphic-git. Checksums are checked
# against the ones each project publishes with the release.
FROM debian:bookworm-slim AS tools
ARG TARGETARCH=amd64
ARG KUSTOMIZE_VERSION=5.7.1
ARG HELM_VERSION=3.19.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN set -eux; \
    k="kustomize_v${KUSTOMIZE_VERSION}_linux_${TARGETARCH}.tar.gz"; \
    base="https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}"; \
    curl -fsSLO "${base}/${k}"; \
    curl -fsSL "${base}/checksums.txt" | grep " ${k}\$" | sha256sum -c -; \
    tar -xzf "${k}" kustomize; \
    h="helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    curl -fsSLO "https://get.helm.sh/${h}"; \
    curl -fsSLO "https://get.helm.sh/${h}.sha256sum"; \
    sha256sum -c "${h}.sha256sum"; \
    tar -xzf "${h}" --strip-components=1 "linux-${TARGETARCH}/helm"; \
    ./kustomize version; \
    ./helm version --short

# 3. Runtime: node, the bundle and the two renderers.
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
# Every file of dist/ (entries and chunks side by side, as the bundle finds them) into /app.
COPY --from=build /app/dist/ ./
COPY --from=tools /tools/kustomize /tools/helm /usr/local/bin/
# uid/gid 1000 (the image's `node` user), numeric so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
# Memory, for a 256 Mi container (bench/sync.bench.ts and bench/many-apps.bench.ts run the agent with these same
# settings, read from this file). Measured on `tether sync --once` of 3,000 objects, RSS at exit:
# - --max-semi-space-size=1: a 1 MB young generation; without it the young generation grows to 16 MB and more, most
#   of the excess after a sync (142 MB without, 100-104 MB with, before the bundle was split).
# - --optimize-for-size: V8 grows the old generation less eagerly and collects sooner: 111 -> 104 MB (V8 heap 45 ->
#   36 MB), for a first sync ~10 % slower (23 -> 25 s, most of it waiting on the apiserver).
# - MALLOC_ARENA_MAX=2: glibc otherwise keeps a malloc arena per thread (V8's GC and compiler threads, the parse
#   worker, libuv's pool) whose freed memory stays resident: 122 -> 113 MB.
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--max-semi-space-size=1", "--optimize-for-size", "/app/tether.mjs"]
CMD ["agent", "--config", "/etc/tether/config.yaml"]
