import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@drydock/errors';
import { dnsRecordsFor, formatDnsRecords, writeDnsRecordsFile } from './records-file';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'dns-records-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('dnsRecordsFor', () => {
  it('lists name.network first (the PTR name), then the name, short id, aliases and their .network forms', () => {
    const recs = dnsRecordsFor([
      { network: 'app_default', containerName: '/app_web_1', shortId: '0123456789ab', aliases: ['web'], ipv4: '172.18.0.2' },
    ]);
    expect(recs).toEqual([
      { name: 'app_web_1.app_default', ipv4: '172.18.0.2' },
      { name: 'app_web_1', ipv4: '172.18.0.2' },
      { name: '0123456789ab', ipv4: '172.18.0.2' },
      { name: 'web', ipv4: '172.18.0.2' },
      { name: '0123456789ab.app_default', ipv4: '172.18.0.2' },
      { name: 'web.app_default', ipv4: '172.18.0.2' },
    ]);
  });

  it('adds the hostname like an alias, once when it is the short id', () => {
    const recs = dnsRecordsFor([{ network: 'n', containerName: 'a', shortId: '0123456789ab', hostname: '0123456789ab', ipv4: '10.0.0.2' }]);
    expect(recs.map((r) => r.name)).toEqual(['a.n', 'a', '0123456789ab', '0123456789ab.n']);
    const named = dnsRecordsFor([{ network: 'n', containerName: 'a', hostname: 'box', ipv4: '10.0.0.2' }]);
    expect(named.map((r) => r.name)).toEqual(['a.n', 'a', 'box', 'box.n']);
  });

  it('keeps one alias for several containers (rotation), drops duplicates, undeliverable names and bad addresses', () => {
    const recs = dnsRecordsFor([
      { network: 'n', containerName: 'a', aliases: ['svc', 'svc', 'has space'], ipv4: '10.0.0.2' },
      { network: 'n', containerName: 'b', aliases: ['SVC'], ipv4: '10.0.0.3' },
      { network: 'n', containerName: 'c', ipv4: 'fe80::1' },
    ]);
    expect(recs.filter((r) => r.name.toLowerCase() === 'svc').map((r) => r.ipv4)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(recs.some((r) => r.name.includes(' '))).toBe(false);
    expect(recs.some((r) => r.name.startsWith('c'))).toBe(false);
    expect(recs.filter((r) => r.name === 'svc')).toHaveLength(1);
  });
});

describe('formatDnsRecords', () => {
  it('writes one "name ipv4" line per record, in order', () => {
    expect(formatDnsRecords([{ name: 'b', ipv4: '10.0.0.2' }, { name: 'a.', ipv4: '10.0.0.3' }])).toBe('b 10.0.0.2\na. 10.0.0.3\n');
    expect(formatDnsRecords([])).toBe('');
  });

  it.each([
    [{ name: 'two words', ipv4: '10.0.0.1' }],
    [{ name: 'a#b', ipv4: '10.0.0.1' }],
    [{ name: 'a..b', ipv4: '10.0.0.1' }],
    [{ name: 'x'.repeat(64), ipv4: '10.0.0.1' }],
    [{ name: 'ok', ipv4: '10.0.0.256' }],
    [{ name: 'ok', ipv4: '::1' }],
  ])('rejects %j', (rec) => {
    expect(() => formatDnsRecords([rec])).toThrow(InvalidArgumentError);
  });
});

describe('writeDnsRecordsFile', () => {
  it('replaces the file by rename (new inode, no temporary left) and creates the directory', async () => {
    const path = join(dir, 'c1', 'records');
    await writeDnsRecordsFile(path, [{ name: 'a', ipv4: '10.0.0.2' }]);
    const first = statSync(path).ino;
    await writeDnsRecordsFile(path, [{ name: 'a', ipv4: '10.0.0.2' }, { name: 'b', ipv4: '10.0.0.3' }]);
    expect(readFileSync(path, 'utf8')).toBe('a 10.0.0.2\nb 10.0.0.3\n');
    expect(statSync(path).ino).not.toBe(first);
    expect(readdirSync(join(dir, 'c1'))).toEqual(['records']);
  });

  it('leaves the old file and nothing else when the new table is invalid', async () => {
    const path = join(dir, 'records');
    writeFileSync(path, 'old 10.0.0.9\n');
    await expect(writeDnsRecordsFile(path, [{ name: 'bad name', ipv4: '10.0.0.2' }])).rejects.toThrow(InvalidArgumentError);
    expect(readFileSync(path, 'utf8')).toBe('old 10.0.0.9\n');
    expect(readdirSync(dir)).toEqual(['records']);
  });

  it('removes its temporary file when the write fails', async () => {
    const sub = join(dir, 'ro');
    await writeDnsRecordsFile(join(sub, 'records'), []);
    // A directory in place of the target makes rename fail after the temp file was written.
    rmSync(join(sub, 'records'));
    mkdirSync(join(sub, 'records', 'x'), { recursive: true });
    await expect(writeDnsRecordsFile(join(sub, 'records'), [{ name: 'a', ipv4: '10.0.0.2' }])).rejects.toThrow();
    expect(readdirSync(sub)).toEqual(['records']);
  });
});
