# qasynth worker image (docker-compose.yml, docker-compose.dev.yml; docs/deployment.md).
# Debian (glibc) base: Temporal's native core does not support Alpine/musl.

# ---- build: compile TypeScript and the workflow bundle (needs the dev dependencies)
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime
FROM node:20-bookworm-slim
# What the tools need at run time:
#   python3, python3-numpy, python3-sympy  python_interpreter (Debian's CPython, as outside containers)
#   bubblewrap (+ prlimit from util-linux)  its sandbox; needs user namespaces: see security_opt in docker-compose.yml
#   dict-foldoc, dict-jargon                the offline web corpus (`qasynth corpus build`)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-numpy python3-sympy bubblewrap util-linux dict-foldoc dict-jargon ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY configs ./configs
# /data/out: where the output-owning worker writes (a volume); .state: corpus and caches of `qasynth corpus`.
RUN mkdir -p /data/out /app/.state && chown node:node /data/out /app/.state
# Not root: bubblewrap runs unprivileged inside the container's user namespace. No secrets in the image:
# OPENAI_API_KEY, TEMPORAL_API_KEY … come from the environment at run time.
USER node
# Bounded V8 heap (see bin/qasynth.js): a worker with 64 seeds in flight stays under 500 MB RSS.
ENV NODE_OPTIONS="--max-old-space-size=384 --max-semi-space-size=4"
ENTRYPOINT []
CMD ["node", "dist/cli/main.js", "worker"]
