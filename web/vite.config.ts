/**
 * Builds the gallery into web/dist, which the server serves at `/`. During `vite` development the
 * API routes are proxied to a running `segcat serve` (SEGCAT_URL, default http://localhost:4000).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.SEGCAT_URL ?? 'http://localhost:4000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs keep the build working when the server sits under a path prefix.
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { proxy: { '/graphql': api, '/files': api, '/overlays': api } },
});
