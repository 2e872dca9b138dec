#!/usr/bin/env node
// Compiles Drydock's own protos and containerd's API protos to TypeScript with
// protoc + ts-proto. Offline: containerd's protos come from Debian's
// golang-github-containerd-containerd-dev, the well-known types from libprotobuf-dev.
// Usage: node tools/proto/generate.mjs [outDir]   (default libs/proto/src/gen)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = resolve(process.argv[2] ?? join(root, 'libs/proto/src/gen'));
const gocode = '/usr/share/gocode/src';
const containerdApi = join(gocode, 'github.com/containerd/containerd/api');
const includes = [join(root, 'libs/proto/proto'), gocode, join(gocode, 'github.com/gogo/protobuf'), '/usr/include'];

for (const [path, pkg] of [
  [containerdApi, 'golang-github-containerd-containerd-dev'],
  ['/usr/include/google/protobuf/any.proto', 'libprotobuf-dev'],
  ['/usr/bin/protoc', 'protobuf-compiler'],
]) {
  if (!existsSync(path)) {
    console.error(`missing ${path}: install the Debian package ${pkg} (npm start / npm test do)`);
    process.exit(1);
  }
}

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function protos(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return protos(p);
    return p.endsWith('.proto') ? [p] : [];
  });
}

// Only the services Drydock calls; ttrpc and the event payload protos are not needed
// except events/task.proto etc. which decode Events.Subscribe envelopes.
const containerdFiles = [
  'services/containers/v1/containers.proto',
  'services/content/v1/content.proto',
  'services/diff/v1/diff.proto',
  'services/events/v1/events.proto',
  'services/images/v1/images.proto',
  'services/leases/v1/leases.proto',
  'services/namespaces/v1/namespace.proto',
  'services/snapshots/v1/snapshots.proto',
  'services/tasks/v1/tasks.proto',
  'services/version/v1/version.proto',
  'events/task.proto',
  'events/container.proto',
].map((f) => join(containerdApi, f));
const drydockFiles = protos(join(root, 'libs/proto/proto'));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const plugin = join(root, 'node_modules/.bin/protoc-gen-ts_proto');
const opts = [
  'outputServices=grpc-js',
  // unset strings must stay unset: containerd reads the text "undefined" otherwise
  'useOptionals=all',
  'forceLong=string',
  'esModuleInterop=true',
  'env=node',
  // keep Timestamp {seconds,nanos}: Docker shows nanoseconds
  'useDate=false',
].join(',');
execFileSync(
  '/usr/bin/protoc',
  [
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${outDir}`,
    `--ts_proto_opt=${opts}`,
    ...includes.map((i) => `-I${i}`),
    ...drydockFiles,
    ...containerdFiles,
  ],
  { stdio: 'inherit' },
);
// ts-proto makes each gRPC client with a top-level call, which a bundler must keep (it might have side
// effects): every service and every message it references then stays in every bundle, e.g. containerd's
// whole API in the builder. The call is pure; saying so lets esbuild drop the clients a service never uses.
for (const file of walk(outDir)) {
  const text = readFileSync(file, 'utf8');
  const marked = text.replace(/= makeGenericClientConstructor\(/g, '= /* @__PURE__ */ makeGenericClientConstructor(');
  if (marked !== text) writeFileSync(file, marked);
}
console.log(`generated TypeScript into ${relative(root, outDir) || outDir}`);
