import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sha256Digest } from './digest';
import { paginate, RegistryStore } from './registry-store';

const body = (s: string) => Readable.from([Buffer.from(s)]);

describe('RegistryStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dd-regstore-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes a blob visible only in the repository it was pushed or mounted to', async () => {
    const store = new RegistryStore(dir);
    await store.init();
    const up = await store.startUpload('a/one');
    await store.completeUpload('a/one', up.id, sha256Digest('data'), body('data'));
    expect(await store.statBlob('a/one', sha256Digest('data'))).toEqual({ digest: sha256Digest('data'), size: 4 });
    await expect(store.statBlob('b/two', sha256Digest('data'))).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(await store.mountBlob('b/two', sha256Digest('data'), 'a/one')).toEqual({ digest: sha256Digest('data'), size: 4 });
    expect(await store.mountBlob('c/three', sha256Digest('other'), 'a/one')).toBeUndefined();
  });

  it('stores nothing when the content does not match the digest', async () => {
    const store = new RegistryStore(dir);
    await store.init();
    const up = await store.startUpload('a/one');
    await expect(store.completeUpload('a/one', up.id, sha256Digest('expected'), body('actual'))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
    expect(await readdir(join(dir, 'uploads'))).toEqual([]);
    expect(() => store.getUpload('a/one', up.id)).toThrow(expect.objectContaining({ code: 'BLOB_UPLOAD_UNKNOWN' }));
  });

  it('drops uploads a previous process left behind (a crash mid-upload leaves nothing)', async () => {
    const first = new RegistryStore(dir);
    await first.init();
    const up = await first.startUpload('a/one');
    await first.appendUpload('a/one', up.id, body('half of it'));
    const second = new RegistryStore(dir);
    await second.init();
    expect(await readdir(join(dir, 'uploads'))).toEqual([]);
    expect(() => second.getUpload('a/one', up.id)).toThrow(expect.objectContaining({ code: 'BLOB_UPLOAD_UNKNOWN' }));
    await expect(second.statBlob('a/one', sha256Digest('half of it'))).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
  });

  it('paginates after `last`, n at a time', () => {
    expect(paginate(['a', 'b', 'c'], 2, undefined)).toEqual({ items: ['a', 'b'], next: 'b' });
    expect(paginate(['a', 'b', 'c'], 2, 'b')).toEqual({ items: ['c'] });
    expect(paginate(['a', 'b', 'c'], undefined, 'a')).toEqual({ items: ['b', 'c'] });
  });
});
