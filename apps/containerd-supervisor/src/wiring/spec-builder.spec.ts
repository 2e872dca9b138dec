import type { Spec } from '@drydock/oci-spec';
import type { ContainerSpecRecord } from '../containers/record';
import { DockerSpecBuilder } from './spec-builder';

const id = 'a'.repeat(64);
const target = 'b'.repeat(64);
const record = (env: string[], tty = false) => ({ id, config: { hostname: 'aaaaaaaaaaaa', env, tty }, hostConfig: { networkMode: `container:${target}` } }) as unknown as ContainerSpecRecord;

function spec(): Spec {
  return {
    hostname: 'aaaaaaaaaaaa',
    process: { args: ['sh'], cwd: '/', env: ['PATH=/usr/bin', 'HOSTNAME=aaaaaaaaaaaa', 'FOO=1', 'HOME=/root'], user: { uid: 0, gid: 0 } },
    mounts: [
      { destination: '/etc/hosts', type: 'bind', source: `/state/containers/${id}/hosts`, options: ['rbind'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: `/state/containers/${id}/resolv.conf`, options: ['rbind'] },
      { destination: '/etc/hostname', type: 'bind', source: '/home/me/myhostname', options: ['rbind'] },
    ],
    linux: { namespaces: [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }], sysctl: {} },
  } as Spec;
}

describe('DockerSpecBuilder.forRun', () => {
  const b = new DockerSpecBuilder({ cgroupParent: '/drydock', hostCpus: 2 });

  it("joins the target's namespace, takes its generated files (not a user's bind) and its hostname", () => {
    const files = { hostname: `/s/${target}/hostname`, hosts: `/s/${target}/hosts`, resolvConf: `/s/${target}/resolv.conf` };
    const s = b.forRun(spec(), record(['FOO=1']), { netnsPath: '/proc/42/ns/net', files, hostname: 'webhost', domainname: 'example.org' }) as Spec;
    expect(s.linux?.namespaces).toEqual([{ type: 'mount' }, { type: 'network', path: '/proc/42/ns/net' }, { type: 'uts' }]);
    expect(s.mounts?.map((m) => m.source)).toEqual([files.hosts, files.resolvConf, '/home/me/myhostname']);
    expect(s.hostname).toBe('webhost');
    expect(s.domainname).toBe('example.org');
    expect(s.linux?.sysctl).toEqual({ 'kernel.domainname': 'example.org' });
    expect(s.process?.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=webhost', 'FOO=1', 'HOME=/root']);
  });

  it("puts link variables before the container's Env (which wins), and drops an earlier run's", () => {
    const first = b.forRun(spec(), record(['FOO=1', 'DB_NAME=mine'], true), { env: ['DB_NAME=/me/db', 'DB_PORT=tcp://10.0.0.2:5432'] }) as Spec;
    expect(first.process?.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=aaaaaaaaaaaa', 'TERM=xterm', 'DB_NAME=mine', 'DB_PORT=tcp://10.0.0.2:5432', 'FOO=1', 'HOME=/root']);
    const again = b.forRun(first, record(['FOO=1']), {}) as Spec;
    expect(again.process?.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=aaaaaaaaaaaa', 'FOO=1', 'HOME=/root']);
    expect(again.linux?.namespaces?.[1]).toEqual({ type: 'network' });
  });

  it("binds a plugin volume at the path its Mount answered, again on each run", () => {
    const withVolume = { ...spec(), mounts: [...spec().mounts!, { destination: '/data', type: 'bind', source: '/nonexistent/plugin-volume/p/v', options: ['rbind'] }] } as Spec;
    const first = b.forRun(withVolume, record([]), { mountSources: { '/data': '/plugin/mnt/v/1' } }) as Spec;
    expect(first.mounts?.find((m) => m.destination === '/data')?.source).toBe('/plugin/mnt/v/1');
    const second = b.forRun(first, record([]), { mountSources: { '/data': '/plugin/mnt/v/2' } }) as Spec;
    expect(second.mounts?.find((m) => m.destination === '/data')?.source).toBe('/plugin/mnt/v/2');
    expect(second.mounts?.find((m) => m.destination === '/etc/hosts')?.source).toBe(`/state/containers/${id}/hosts`);
  });
});
