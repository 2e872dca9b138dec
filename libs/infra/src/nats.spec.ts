import { natsServerCommand } from './nats';
import { redisServerCommand } from './redis';

describe('server command lines', () => {
  it('runs a lone nats-server on loopback, and a cluster member on its host with its routes and name', () => {
    expect(natsServerCommand({ storeDir: '/s', port: 4222 }).args).toEqual(['-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/s']);
    const routes = ['nats://10.0.0.1:6222', 'nats://10.0.0.1:6223'];
    expect(natsServerCommand({ storeDir: '/s2', port: 4223, host: '10.0.0.1', cluster: { name: 'drydock', serverName: 'nats-2', port: 6223, routes } }).args).toEqual([
      '-a', '10.0.0.1', '-p', '4223', '-js', '-sd', '/s2',
      '-n', 'nats-2', '--cluster_name', 'drydock', '--cluster', 'nats://10.0.0.1:6223', '--routes', routes.join(','),
    ]);
  });

  it('turns off protected mode only for a redis-server bound beyond loopback', () => {
    expect(redisServerCommand({ dir: '/r', port: 6379 }).args).not.toContain('--protected-mode');
    const args = redisServerCommand({ dir: '/r', port: 6379, host: '10.0.0.1' }).args;
    expect(args.slice(0, 2)).toEqual(['--bind', '10.0.0.1']);
    expect(args.slice(-2)).toEqual(['--protected-mode', 'no']);
  });
});
