import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '@drydock/errors';

export interface NodeIdentity {
  /** Stable across restarts (a UUID kept in `<stateDir>/node-id`); the NATS subject token of this node. */
  nodeId: string;
  /** Human name, the hostname unless configured. */
  name: string;
  /** Operator labels for placement constraints. */
  labels: Record<string, string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Keys: what Docker accepts in practice for labels, minus '=' and ',' (our separators)
// and whitespace; they end up in JSON only, never in subjects.
const LABEL_KEY = /^[^\s=,]+$/;

/**
 * Parses node labels written `k=v,k2=v2` (as `dockerd --label` takes them, comma
 * separated). Values may contain `=`; empty items are ignored; a key given twice with
 * different values is an error, as dockerd's "conflicting labels" check.
 */
export function parseNodeLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  const bad: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (eq < 0 || !LABEL_KEY.test(key)) {
      bad.push(`bad label format ${JSON.stringify(item)}: expected key=value`);
      continue;
    }
    if (key in labels && labels[key] !== value) {
      bad.push(`conflicting values for label ${JSON.stringify(key)}`);
      continue;
    }
    labels[key] = value;
  }
  if (bad.length) throw new InvalidArgumentError(`invalid node labels: ${bad.join('; ')}`);
  return labels;
}

/**
 * Reads this node's persistent id from `<stateDir>/node-id`, creating it on first start.
 * Creation is atomic (write a temp file, then link(2), which fails if the id exists),
 * so concurrent starts and crashes never leave an empty or second id.
 */
export async function loadNodeIdentity(stateDir: string, name?: string, labels?: string): Promise<NodeIdentity> {
  const parsedLabels = parseNodeLabels(labels);
  const nodeName = name?.trim() || hostname();
  await fs.mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'node-id');
  let nodeId = await readNodeId(file);
  if (nodeId === undefined) {
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await fs.writeFile(tmp, randomUUID() + '\n', { mode: 0o644 });
    const fh = await fs.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
    nodeId = await readNodeId(file);
    if (nodeId === undefined) throw new FailedPreconditionError(`node id file ${file} vanished while being created`);
  }
  return { nodeId, name: nodeName, labels: parsedLabels };
}

async function readNodeId(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const id = text.trim();
  // A corrupt id is not silently replaced: the cluster knows this node by it.
  if (!UUID.test(id)) throw new FailedPreconditionError(`node id file ${file} does not hold a UUID; remove it to make a new node identity`);
  return id;
}
