# qasynth worker image. Debian (glibc) base: Temporal's native core does not support Alpine/musl.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY configs ./configs
COPY bin ./bin
RUN npm run build && npm prune --omit=dev
ENTRYPOINT []
CMD ["node", "dist/cli/main.js", "worker"]
