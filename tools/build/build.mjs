#!/usr/bin/env node
// Builds what `npm start` runs, with esbuild and gcc:
//   apps/<app>/src/main.ts  -> dist/apps/<app>/main.js   (one CommonJS bundle, libs inlined)
//   tools/stack/stack.ts    -> dist/tools/stack/stack.js
//   tools/cluster/cluster.ts -> dist/tools/cluster/cluster.js
//   apps/<app>/native/*.c   -> dist/native/<name>
//   libs/<lib>/native/*.c   -> dist/native/<name>.node   (Node-API add-ons)
// Usage: node tools/build/build.mjs [target...]
//   target: an app name, "stack", "cluster", or "lib:<name>" (bundles the lib without writing, to catch
//   unresolved imports). No target builds every app, the stack and every C helper.
// --out DIR writes there instead of dist/ (tests and benches build private copies).
// DRYDOCK_NATIVE_CFLAGS adds gcc flags (the Dockerfile passes -static).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const outFlag = argv.indexOf('--out');
const outDir = outFlag >= 0 ? resolve(argv[outFlag + 1] ?? '') : join(root, 'dist');
if (outFlag >= 0) argv.splice(outFlag, 2);
// Optional native add-ons that their packages load only when present (bullmq -> msgpackr).
const OPTIONAL_NATIVE = ['msgpackr-extract'];

const dirs = (p) => (existsSync(p) ? readdirSync(p).filter((n) => statSync(join(p, n)).isDirectory()).sort() : []);
const apps = dirs(join(root, 'apps')).filter((a) => existsSync(join(root, 'apps', a, 'src/main.ts')));

// bullmq's CommonJS entry requires every backend it ships (PostgreSQL, Valkey GLIDE, Bun's client, relays);
// its ES module build lets esbuild leave out what the services never import (150 KB of the builder's bundle).
const bullmqEsm = {
  name: 'bullmq-esm',
  setup(b) {
    b.onResolve({ filter: /^bullmq$/ }, () => ({ path: join(root, 'node_modules/bullmq/dist/esm/index.js') }));
  },
};

const esbuildBase = {
  plugins: [bullmqEsm],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // tsconfig.json extends tsconfig.base.json: esbuild resolves the @drydock/* paths from it.
  tsconfig: join(root, 'tsconfig.json'),
  external: OPTIONAL_NATIVE,
  logLevel: 'warning',
  legalComments: 'none',
  // The bundle's source stays in every service's heap: esbuild keeps comments unless whitespace is minified,
  // and one non-Latin-1 character in them (an em dash) makes V8 hold the whole source as UTF-16. The
  // gateway's 5.8 MB bundle was an 11.6 MB string. Names are kept, so stack traces still read.
  minifyWhitespace: true,
  charset: 'ascii',
};

async function bundle(entry, outfile) {
  await build({ ...esbuildBase, entryPoints: [join(root, entry)], outfile: join(outDir, outfile) });
  // esbuild cannot escape a regular expression literal's characters: keep the source one-byte (see minifyWhitespace)
  const text = readFileSync(join(outDir, outfile), 'utf8');
  const wide = text.search(/[^\u0000-\u00ff]/u);
  if (wide >= 0) throw new Error(`${outfile}: non-Latin-1 character in the bundle (write it as an escape): …${text.slice(Math.max(0, wide - 60), wide + 10)}…`);
  const kb = Math.round(statSync(join(outDir, outfile)).size / 1024);
  console.log(`built ${relative(root, join(outDir, outfile))} (${kb} KiB)`);
}

async function checkLib(name) {
  const entry = join(root, 'libs', name, 'src/index.ts');
  if (!existsSync(entry)) throw new Error(`no lib ${name} (${relative(root, entry)})`);
  await build({ ...esbuildBase, entryPoints: [entry], write: false, sourcemap: false, packages: 'external' });
  console.log(`checked libs/${name}`);
}

function compileNative(app) {
  const dir = join(root, 'apps', app, 'native');
  if (!existsSync(dir)) return;
  const sources = readdirSync(dir).filter((f) => f.endsWith('.c')).sort();
  if (sources.length === 0) return;
  mkdirSync(join(outDir, 'native'), { recursive: true });
  const extra = (process.env.DRYDOCK_NATIVE_CFLAGS ?? '').split(/\s+/).filter(Boolean);
  for (const src of sources) {
    const out = join(outDir, 'native', basename(src, '.c'));
    try {
      execFileSync('gcc', ['-O2', '-Wall', ...extra, '-o', out, join(dir, src)], { stdio: 'inherit' });
    } catch (err) {
      if (err.code === 'ENOENT') throw new Error('gcc not found: install the Debian packages gcc and libc6-dev (tools/install/ensure-deps.sh does)');
      throw new Error(`gcc failed on ${relative(root, join(dir, src))}`);
    }
    console.log(`built ${relative(root, out)}`);
  }
}

/**
 * Add-ons of the libs (libs/<lib>/native/*.c with Node-API, *.cc with V8's API -> dist/native/<name>.node),
 * built against the headers Debian's nodejs package installs. Never -static (DRYDOCK_NATIVE_CFLAGS is for the helpers).
 */
function compileAddons() {
  const include = [join(dirname(process.execPath), '../include/node'), '/usr/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
  for (const lib of dirs(join(root, 'libs'))) {
    const dir = join(root, 'libs', lib, 'native');
    if (!existsSync(dir)) continue;
    if (!include) return console.log('skipped the Node-API add-ons: no node_api.h (the nodejs package installs it in /usr/include/node)');
    mkdirSync(join(outDir, 'native'), { recursive: true });
    for (const src of readdirSync(dir).filter((f) => f.endsWith('.c') || f.endsWith('.cc')).sort()) {
      const cxx = src.endsWith('.cc');
      const out = join(outDir, 'native', `${basename(src, cxx ? '.cc' : '.c')}.node`);
      const [cc, std] = cxx ? ['g++', ['-std=gnu++17']] : ['gcc', []];
      try {
        execFileSync(cc, ['-O2', '-Wall', ...std, '-shared', '-fPIC', '-I', include, '-o', out, join(dir, src)], { stdio: 'inherit' });
      } catch (err) {
        // an image's build stage without a compiler: the services run without the add-on (see its loader)
        if (err.code === 'ENOENT') {
          console.log(`skipped ${relative(root, out)}: no ${cc}`);
          continue;
        }
        throw new Error(`${cc} failed on ${relative(root, join(dir, src))}`);
      }
      console.log(`built ${relative(root, out)}`);
    }
  }
}

async function main() {
  const targets = argv;
  const want = (t) => targets.length === 0 || targets.includes(t);
  const unknown = targets.filter((t) => t !== 'stack' && t !== 'cluster' && !t.startsWith('lib:') && !existsSync(join(root, 'apps', t)));
  if (unknown.length) throw new Error(`unknown build target(s): ${unknown.join(', ')}`);
  // C helpers of every wanted app dir, including apps still being written that have no main.ts yet.
  for (const app of dirs(join(root, 'apps'))) if (want(app)) compileNative(app);
  if (apps.some(want)) compileAddons();
  const jobs = apps.filter(want).map((app) => bundle(`apps/${app}/src/main.ts`, `apps/${app}/main.js`));
  if (want('stack')) jobs.push(bundle('tools/stack/stack.ts', 'tools/stack/stack.js'));
  if (want('cluster')) jobs.push(bundle('tools/cluster/cluster.ts', 'tools/cluster/cluster.js'));
  for (const t of targets.filter((t) => t.startsWith('lib:'))) jobs.push(checkLib(t.slice(4)));
  const failed = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

main().catch((err) => {
  // esbuild has printed its diagnostics already
  if (!err.errors) console.error(`build failed: ${err.message}`);
  process.exit(1);
});
