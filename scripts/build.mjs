// Build steps run by `npm install` (prepare) and `npm run build`: Prisma client, GraphQL resolver
// types, then TypeScript. Each step runs offline.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });

// `prisma generate` never runs the schema engine, but the CLI insists that one exists and would
// otherwise try to download it. Any existing file satisfies the check.
run(bin('prisma'), ['generate'], {
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? path.join(root, 'package.json'),
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
});
if (existsSync(path.join(root, 'codegen.yml'))) run(bin('graphql-codegen'), ['--config', 'codegen.yml', '--silent']);
run(bin('tsc'), ['-p', 'tsconfig.json']);
if (existsSync(path.join(root, 'web', 'vite.config.ts'))) run(bin('vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
