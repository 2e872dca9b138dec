#!/usr/bin/env node
// Bundles a TypeScript tool (tsconfig paths resolved) into dist/tools and runs it with the given args.
// Usage: node tools/bench/run.mjs tools/bench/supervisor-bench.ts [args...]
import { spawnSync } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node tools/bench/run.mjs <tool.ts> [args...]');
  process.exit(2);
}
const outfile = join(root, 'dist/tools/bench', basename(entry).replace(/\.ts$/, '.js'));
await build({
  entryPoints: [resolve(root, entry)],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: join(root, 'tsconfig.json'),
  external: ['msgpackr-extract'],
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
