# segcat for deployment (see docker-compose.yml). Built with internet access: npm install and the
# model weights (`segcat models pull`, checked against models/manifest.json) are baked into the image.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
# onnxruntime-node's install script would add CUDA libraries; segcat runs on the CPU. (npm 11.16 and
# later already skip it through package.json's allowScripts; older npm versions read this.)
ENV ONNXRUNTIME_NODE_INSTALL=skip
# `npm ci` runs the prepare script: Prisma client, GraphQL types, TypeScript, web gallery.
RUN npm ci && node bin/segcat.js models pull && npm prune --omit=dev

FROM node:24-bookworm-slim
# glibc's per-thread malloc arenas fragment under sharp/libvips' threads; two keep RSS steady.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 DATA_DIR=/data MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app /app
# The app runs unprivileged; originals, masks and cut-outs go to the /data volume.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations are applied on start (src/db/migrate.ts), so a new image upgrades the database.
CMD ["node", "bin/segcat.js", "serve"]
