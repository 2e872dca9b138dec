import { credentials, Metadata, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { AlreadyExistsError, InternalError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { supervisorV1 } from '@drydock/proto';
import type { PluginSource, ProgressSink } from '../plugins/managed/plugin-fetch';
import type { PluginManager } from '../plugins/managed/plugin-manager';
import { Handlers } from './handlers';
import { pluginsService } from './plugins.service';

/** The plugin install/upgrade/push streams over a real gRPC server: messages as the work goes, errors before or after them. */
describe('Plugins service: progress streams', () => {
  let server: Server;
  let client: supervisorV1.PluginsClient;
  let pull: (emit: ProgressSink) => Promise<unknown>;

  beforeAll(async () => {
    const fake = {
      pull: (_r: string, _a: string | undefined, _g: unknown, _o: unknown, emit: ProgressSink) => pull(emit),
      upgrade: (_n: string, _r: string, _g: unknown, _o: unknown, emit: ProgressSink) => pull(emit),
      push: (_n: string, _reg: unknown, _o: unknown, emit: ProgressSink) => pull(emit),
    } as unknown as PluginManager;
    server = new Server();
    server.addService(supervisorV1.PluginsService, pluginsService(fake, {} as PluginSource, { gzipLevel: 1 }, new Handlers(createLogger({ service: 'test', level: 'silent' }))));
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
    client = new supervisorV1.PluginsClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  /** Reads a stream: each message as it comes (`onMessage`), then its end or error. */
  const read = (call: NodeJS.ReadableStream, onMessage: (m: supervisorV1.ImageProgress) => void = () => undefined) =>
    new Promise<{ messages: supervisorV1.ImageProgress[]; err?: ServiceError }>((resolve) => {
      const messages: supervisorV1.ImageProgress[] = [];
      call.on('data', (m: supervisorV1.ImageProgress) => (messages.push(m), onMessage(m)));
      call.on('error', (err: ServiceError) => resolve({ messages, err }));
      call.on('end', () => resolve({ messages }));
    });

  it.each(['pullPlugin', 'upgradePlugin', 'pushPlugin'] as const)('%s: the first message reaches the caller while the work still runs', async (rpc) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    pull = async (emit) => {
      emit({ id: 'latest', status: 'Pulling from x/p' });
      await gate;
      emit({ id: '', status: 'Status: Downloaded newer image for x/p:latest' });
      finished = true;
    };
    const call = (client[rpc] as (req: object, md: Metadata) => NodeJS.ReadableStream).call(client, { name: 'x/p', remote: 'x/p' }, new Metadata());
    const firstWhileRunning: boolean[] = [];
    const res = read(call, (m) => {
      firstWhileRunning.push(!finished);
      if (m.status === 'Pulling from x/p') release();
    });
    const { messages, err } = await res;
    expect(err).toBeUndefined();
    expect(messages.map((m) => m.status)).toEqual(['Pulling from x/p', 'Status: Downloaded newer image for x/p:latest']);
    expect(firstWhileRunning[0]).toBe(true);
  });

  it('an error before any message is the stream status (the gateway answers it as HTTP)', async () => {
    pull = async () => {
      throw new AlreadyExistsError('plugin x/p:latest already exists');
    };
    const { messages, err } = await read(client.pullPlugin({ remote: 'x/p' }, new Metadata()));
    expect(messages).toEqual([]);
    expect(err?.code).toBe(status.ALREADY_EXISTS);
    expect(err?.details).toBe('plugin x/p:latest already exists');
  });

  it('an error after messages ends the stream with it, after them', async () => {
    pull = async (emit) => {
      emit({ id: 'abcdef012345', status: 'Downloading', current: 1, total: 2 });
      throw new InternalError('layer verification failed for digest sha256:ab');
    };
    const { messages, err } = await read(client.pullPlugin({ remote: 'x/p' }, new Metadata()));
    expect(messages).toEqual([expect.objectContaining({ id: 'abcdef012345', status: 'Downloading', current: '1', total: '2' })]);
    expect(err?.code).toBe(status.INTERNAL);
    expect(err?.details).toBe('layer verification failed for digest sha256:ab');
  });

  it('bad privileges JSON is refused before anything runs', async () => {
    let ran = false;
    pull = async () => void (ran = true);
    const { messages, err } = await read(client.pullPlugin({ remote: 'x/p', privilegesJson: '{' }, new Metadata()));
    expect(messages).toEqual([]);
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(ran).toBe(false);
  });
});
