import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { PortHolder } from './port-holder';

function tcpBindable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function udpBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('PortHolder', () => {
  const holder = new PortHolder();
  afterEach(() => holder.close());

  it('keeps a TCP port on every address bound until released, so host processes cannot take it', async () => {
    const port = await freePort();
    expect(await holder.hold({ proto: 'tcp', hostIp: '', hostPort: port })).toBe(true);
    expect(await tcpBindable(port)).toBe(false);
    expect(await holder.hold({ proto: 'tcp', hostIp: '', hostPort: port })).toBe(true); // idempotent
    holder.release({ proto: 'tcp', hostIp: '', hostPort: port });
    await new Promise((r) => setTimeout(r, 20));
    expect(await tcpBindable(port)).toBe(true);
  });

  it('refuses a port something else listens on', async () => {
    const other = createServer();
    await new Promise<void>((r) => other.listen({ host: '127.0.0.1', port: 0 }, r));
    const port = (other.address() as { port: number }).port;
    expect(await holder.hold({ proto: 'tcp', hostIp: '', hostPort: port })).toBe(false);
    expect(await holder.hold({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port })).toBe(false);
    expect(holder.has({ proto: 'tcp', hostIp: '', hostPort: port })).toBe(false);
    other.close();
  });

  it('holds UDP ports too', async () => {
    const port = await freePort();
    expect(await holder.hold({ proto: 'udp', hostIp: '127.0.0.1', hostPort: port })).toBe(true);
    expect(await udpBindable(port)).toBe(false);
    holder.release({ proto: 'udp', hostIp: '127.0.0.1', hostPort: port });
    await new Promise((r) => setTimeout(r, 20));
    expect(await udpBindable(port)).toBe(true);
  });

  it('closes a connection that reaches the held socket instead of leaving it hanging', async () => {
    const port = await freePort();
    await holder.hold({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port });
    const closed = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port });
      c.on('error', () => resolve(true));
      c.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 2000);
    });
    expect(closed).toBe(true);
  });
});
