import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotFoundError, UnavailableError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import { errorLine, goJson, humanSize, progressLine, progressText, writeProgressStream } from './progress';

describe('humanSize (go-units HumanSize)', () => {
  it.each([
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [32768, '32.77kB'],
    [527, '527B'],
    [3001162, '3.001MB'],
    [2_000_000, '2MB'],
    [999_950, '1000kB'],
    [104_857_600, '104.9MB'],
    [1.5e12, '1.5TB'],
  ])('%d -> %s', (n, text) => expect(humanSize(n)).toBe(text));
});

describe('progressText (JSONProgress.String at the daemon: width 200, no time left)', () => {
  it('is empty without bytes', () => expect(progressText(0, 0)).toBe(''));

  // Lines recorded from dockerd 20.10 pulling a 3 MB layer.
  it('draws the bar with the byte counts', () => {
    expect(progressText(32768, 3001162)).toBe('[>                                                  ]  32.77kB/3.001MB');
    expect(progressText(3001162, 3001162)).toBe('[==================================================>]  3.001MB/3.001MB');
    expect(progressText(1500581, 3001162)).toBe('[=========================>                         ]  1.501MB/3.001MB');
  });

  it('shows the current count alone without a total or when it exceeds the total', () => {
    expect(progressText(1234, 0)).toBe(' 1.234kB');
    expect(progressText(2000, 1000)).toBe('[==================================================>]      2kB');
  });
});

const p = (x: Partial<supervisorV1.ImageProgress>): supervisorV1.ImageProgress => x;

describe('progressLine: byte-for-byte what dockerd writes', () => {
  it.each([
    [p({ id: 'latest', status: 'Pulling from library/busybox' }), '{"status":"Pulling from library/busybox","id":"latest"}'],
    [p({ id: '03c602801272', status: 'Pulling fs layer' }), '{"status":"Pulling fs layer","progressDetail":{},"id":"03c602801272"}'],
    [
      p({ id: '03c602801272', status: 'Downloading', current: '32768', total: '3001162' }),
      '{"status":"Downloading","progressDetail":{"current":32768,"total":3001162},"progress":"[\\u003e                                                  ]  32.77kB/3.001MB","id":"03c602801272"}',
    ],
    [p({ id: '03c602801272', status: 'Verifying Checksum' }), '{"status":"Verifying Checksum","progressDetail":{},"id":"03c602801272"}'],
    [p({ id: '03c602801272', status: 'Pull complete', current: '0', total: '0' }), '{"status":"Pull complete","progressDetail":{},"id":"03c602801272"}'],
    [p({ status: 'Digest: sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4' }), '{"status":"Digest: sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4"}'],
    [p({ id: '', status: 'Status: Image is up to date for 127.0.0.1:5555/gwtest/rand:1' }), '{"status":"Status: Image is up to date for 127.0.0.1:5555/gwtest/rand:1"}'],
    [p({ status: 'The push refers to repository [127.0.0.1:5555/gwtest/rand]' }), '{"status":"The push refers to repository [127.0.0.1:5555/gwtest/rand]"}'],
    [p({ id: '5a65eb7433b9', status: 'Layer already exists' }), '{"status":"Layer already exists","progressDetail":{},"id":"5a65eb7433b9"}'],
    [
      p({ status: '2: digest: sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4 size: 527' }),
      '{"status":"2: digest: sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4 size: 527"}',
    ],
    [
      p({ aux: { tag: '2', digest: 'sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4', size: '527' } }),
      '{"progressDetail":{},"aux":{"Tag":"2","Digest":"sha256:b19ee7a598cd31f2ffb1d465fb86f438ce6d6ca8b3ca44140350262d1231e4f4","Size":527}}',
    ],
  ])('%j', (msg, line) => expect(progressLine(msg)).toBe(line + '\r\n'));

  it('keeps progressDetail.current alone when the total is unknown', () => {
    expect(progressLine(p({ id: 'abc', status: 'Pushing', current: '1000' }))).toBe('{"status":"Pushing","progressDetail":{"current":1000},"progress":"     1kB","id":"abc"}\r\n');
  });
});

describe('errorLine and goJson', () => {
  it('writes streamformatter.FormatError', () => {
    expect(errorLine('manifest unknown')).toBe('{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\r\n');
  });
  it('escapes like Go', () => expect(goJson({ a: '<&>\u2028' })).toBe('{"a":"\\u003c\\u0026\\u003e\\u2028"}'));
});

describe('writeProgressStream over a real HTTP server', () => {
  let server: Server;
  let handler: (res: import('node:http').ServerResponse, signal: AbortSignal) => Promise<void>;
  let aborted: AbortSignal | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const ac = new AbortController();
      aborted = ac.signal;
      res.on('close', () => {
        if (!res.writableFinished) ac.abort();
      });
      handler(res, ac.signal).catch((err: Error) => {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: err.message }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  it('answers a failure before the first message as an HTTP error (no 200 sent)', async () => {
    handler = (res, signal) =>
      writeProgressStream(
        res,
        (async function* () {
          throw new NotFoundError('manifest for x:1 not found: manifest unknown: manifest unknown');
        })(),
        signal,
      );
    expect(await get()).toEqual({ status: 404, body: '{"message":"manifest for x:1 not found: manifest unknown: manifest unknown"}' });
  });

  it('streams the messages, then a failure as the last errorDetail line', async () => {
    handler = (res, signal) =>
      writeProgressStream(
        res,
        (async function* () {
          yield p({ id: '1', status: 'Pulling from team/app' });
          yield p({ id: 'abc', status: 'Pulling fs layer' });
          throw new UnavailableError('unexpected EOF');
        })(),
        signal,
      );
    expect(await get()).toEqual({
      status: 200,
      body: '{"status":"Pulling from team/app","id":"1"}\r\n{"status":"Pulling fs layer","progressDetail":{},"id":"abc"}\r\n{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}\r\n',
    });
  });

  it('answers 200 with an empty body when the source ends without a message', async () => {
    handler = (res, signal) => writeProgressStream(res, (async function* () {})(), signal);
    expect(await get()).toEqual({ status: 200, body: '' });
  });

  it('stops reading the source once the client went away', async () => {
    let produced = 0;
    let finished!: () => void;
    const sourceDone = new Promise<void>((r) => (finished = r));
    handler = (res, signal) =>
      writeProgressStream(
        res,
        (async function* () {
          try {
            for (;;) {
              produced++;
              // a large line so that the socket buffer fills and the writer waits for drain
              yield p({ id: 'x'.repeat(64 * 1024), status: 'Downloading', current: String(produced), total: '1000000000' });
            }
          } finally {
            finished();
          }
        })(),
        signal,
      );
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.once('error', reject);
      req.end();
    });
    await sourceDone;
    expect(aborted?.aborted).toBe(true);
    const after = produced;
    await new Promise((r) => setImmediate(r));
    expect(produced).toBe(after);
  });
});
