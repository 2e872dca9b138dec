import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '@drydock/testing';
import { FileOverlayStore } from './file-overlay-store';
import type { OverlayTable } from './overlay-rules';
import { endpoint, overlayInput, overlayStoreContract, owner, type ContractStores } from './overlay-store.contract';

describe('FileOverlayStore', () => {
  let dir: string;
  let store: FileOverlayStore;
  beforeAll(async () => {
    dir = await makeTempDir('ovfile');
    store = new FileOverlayStore(dir);
    await store.start();
  });
  afterAll(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  // a node alone: the one store is both "nodes"
  overlayStoreContract((): ContractStores => ({ a: store, b: store, nodeA: 'solo', nodeB: 'solo', eventually: async (check) => check(),
    // what a restarted store reads from the directory
    heldOn: async (networkId) => {
      const fresh = new FileOverlayStore(dir);
      await fresh.start();
      return (await fresh.leasesOf('solo')).filter((l) => l.networkId === networkId).map((l) => l.ip);
    },
    leaveRemoving: async (ids, sinceMs) => {
      const path = join(dir, 'networks.json');
      const t = JSON.parse(await readFile(path, 'utf8')) as OverlayTable;
      for (const id of ids) t[id] = { ...t[id], state: 'removing', removingSince: sinceMs };
      await writeFile(path, JSON.stringify(t));
      // as after the crash: a store started anew
      store.close();
      store = new FileOverlayStore(dir);
      await store.start();
    },
  }));

  it('finds networks, leases and endpoints again after a restart, and a half-written temp file is swept', async () => {
    const n = await store.createNetwork(overlayInput('kept', { subnet: '10.249.0.0/24' }));
    const o = owner('solo', 'k1');
    const l = await store.lease(n.id, '', o);
    await store.publish(endpoint(n.id, l.ip, o));
    const again = new FileOverlayStore(dir);
    await again.start();
    expect(again.networks().find((x) => x.id === n.id)).toEqual(n);
    expect(again.endpoints(n.id).map((e) => e.ip)).toEqual([l.ip]);
    expect((await again.leasesOf('solo')).filter((x) => x.networkId === n.id)).toEqual([{ networkId: n.id, ip: l.ip, owner: o }]);
    // the address stays taken across the restart
    expect((await again.lease(n.id, '', owner('solo', 'k2'))).ip).not.toBe(l.ip);
  });
});
