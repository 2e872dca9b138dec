import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '../../..');

export interface DrydockBuild {
  supervisor: string;
  gateway: string;
  registryProxy: string;
  builder: string;
  /** The native log writer the supervisor hands to each container run. */
  logger: string;
  /** The embedded DNS server of user networks, one per container. */
  dns: string;
}

/**
 * Builds the services from the working tree with the project's own build
 * (tools/build/build.mjs) into a private directory, so tests and benches never
 * race `dist/` of a running stack.
 */
export function buildDrydock(outDir: string): DrydockBuild {
  execFileSync(process.execPath, [join(repo, 'tools/build/build.mjs'), '--out', outDir, 'containerd-supervisor', 'api-gateway', 'registry-proxy', 'builder'], { stdio: 'pipe' });
  return {
    supervisor: join(outDir, 'apps/containerd-supervisor/main.js'),
    gateway: join(outDir, 'apps/api-gateway/main.js'),
    registryProxy: join(outDir, 'apps/registry-proxy/main.js'),
    builder: join(outDir, 'apps/builder/main.js'),
    logger: join(outDir, 'native/drydock-logger'),
    dns: join(outDir, 'native/drydock-dns'),
  };
}
