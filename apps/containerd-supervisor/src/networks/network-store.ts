import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerNetRecord, NetworkRecord } from './network-record';

/**
 * Where networks, their endpoints and leases live. Node-scoped files today; a
 * cluster-scoped store (NATS KV) can implement the same interface for networks
 * that span nodes. Every write is atomic: a reader sees the old or the new record.
 */
export interface NetworkStore {
  loadNetworks(): Promise<NetworkRecord[]>;
  putNetwork(n: NetworkRecord): Promise<void>;
  deleteNetwork(id: string): Promise<void>;
  loadContainers(): Promise<ContainerNetRecord[]>;
  putContainer(c: ContainerNetRecord): Promise<void>;
  deleteContainer(id: string): Promise<void>;
}

/** One JSON file per network and per container, written to a temp file and renamed. */
export class FileNetworkStore implements NetworkStore {
  private readonly netDir: string;
  private readonly ctrDir: string;

  constructor(dir: string) {
    this.netDir = join(dir, 'networks');
    this.ctrDir = join(dir, 'endpoints');
  }

  async init(): Promise<void> {
    await mkdir(this.netDir, { recursive: true });
    await mkdir(this.ctrDir, { recursive: true });
  }

  loadNetworks(): Promise<NetworkRecord[]> {
    return readAll<NetworkRecord>(this.netDir);
  }
  putNetwork(n: NetworkRecord): Promise<void> {
    return atomicWrite(join(this.netDir, `${n.id}.json`), n);
  }
  deleteNetwork(id: string): Promise<void> {
    return rm(join(this.netDir, `${id}.json`), { force: true });
  }
  loadContainers(): Promise<ContainerNetRecord[]> {
    return readAll<ContainerNetRecord>(this.ctrDir);
  }
  putContainer(c: ContainerNetRecord): Promise<void> {
    return atomicWrite(join(this.ctrDir, `${c.containerId}.json`), c);
  }
  deleteContainer(id: string): Promise<void> {
    return rm(join(this.ctrDir, `${id}.json`), { force: true });
  }
}

/** Writes `value` as JSON to a temp file and renames it over `path`: a reader sees the old or the new. */
export async function atomicWrite(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
}

async function readAll<T>(dir: string): Promise<T[]> {
  const out: T[] = [];
  for (const f of await readdir(dir)) {
    if (f.endsWith('.tmp')) {
      await rm(join(dir, f), { force: true });
      continue;
    }
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(await readFile(join(dir, f), 'utf8')) as T);
    } catch {
      // a torn file cannot exist (rename is atomic); an unreadable one is skipped rather than blocking boot
    }
  }
  return out;
}
