import type { NodeRecord } from '@drydock/cluster';

const enc = new TextEncoder();
/** Container entries are never changed in place (every change makes a new entry), so their text can be kept. */
const entryText = new WeakMap<object, string>();

/**
 * A node record as JSON, equal to JSON.stringify's, with each container entry's text made once:
 * a record is rewritten whole for every placement on its node, and stringifying its tens of
 * unchanged entries again each time was most of a write's cost at 100,000 containers.
 */
export function encodeRecord(record: NodeRecord): Uint8Array {
  let text = '';
  for (const k of Object.keys(record)) {
    const v = (record as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    text += `${text ? ',' : ''}${JSON.stringify(k)}:${k === 'containers' ? containersText(v as NodeRecord['containers']) : JSON.stringify(v)}`;
  }
  return enc.encode(`{${text}}`);
}

function containersText(containers: NodeRecord['containers']): string {
  let out = '';
  for (const k in containers) {
    const c = containers[k];
    if (c === undefined) continue;
    let text = entryText.get(c);
    if (text === undefined) entryText.set(c, (text = JSON.stringify(c)));
    out += `${out ? ',' : ''}${JSON.stringify(k)}:${text}`;
  }
  return `{${out}}`;
}
