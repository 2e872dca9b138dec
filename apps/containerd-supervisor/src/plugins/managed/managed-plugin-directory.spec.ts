import { ManagedPluginDirectory } from './managed-plugin-directory';
import { initialSettings, parsePluginConfig } from './plugin-config';
import type { PluginRecord } from './plugin-store';

const record = (name: string, enabled: boolean, extra: Record<string, unknown> = {}): PluginRecord => {
  const Config = parsePluginConfig(JSON.stringify({ entrypoint: ['/p'], interface: { types: ['docker.volumedriver/1.0'], socket: 'p.sock' }, ...extra }));
  return { Id: `${name.length}`.padEnd(64, 'a'), Name: name, Enabled: enabled, Settings: initialSettings(Config), PluginReference: name, Config };
};

describe('ManagedPluginDirectory', () => {
  const on = record('x/on:latest', true);
  const off = record('x/off:latest', false);
  const prop = record('x/prop:latest', true, { propagatedmount: '/mnt/volumes' });
  const all = [on, off, prop];
  const dir = new ManagedPluginDirectory(
    { lookup: (n) => all.find((r) => r.Name === n || r.Name === `${n}:latest`), enabled: () => all.filter((r) => r.Enabled) },
    { rootfs: (id) => `/state/${id}/rootfs`, propagatedMount: (id) => `/state/${id}/propagated-mount`, socketPath: (r) => `/run/p/${r.Id.slice(0, 12)}/p.sock` },
  );

  it('answers an enabled plugin by the name users type, with its socket and what it implements', async () => {
    const ep = await dir.get('x/on', 'VolumeDriver');
    expect(ep).toMatchObject({ name: 'x/on:latest', socket: `/run/p/${on.Id.slice(0, 12)}/p.sock`, implements: ['VolumeDriver'], managed: true });
    // paths it answers are inside its rootfs
    expect(ep.scopePath!('/data/v1')).toBe(`/state/${on.Id}/rootfs/data/v1`);
  });

  it('reads paths under PropagatedMount in the propagated-mount directory', async () => {
    const ep = await dir.get('x/prop', 'VolumeDriver');
    expect(ep.scopePath!('/mnt/volumes/v1')).toBe(`/state/${prop.Id}/propagated-mount/v1`);
    expect(ep.scopePath!('/mnt/volumesx')).toBe(`/state/${prop.Id}/rootfs/mnt/volumesx`);
  });

  it("not found for other capabilities and unknown names (the composite falls back to legacy); dockerd's text when disabled", async () => {
    await expect(dir.get('x/on', 'authz')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'plugin "x/on" not found' });
    await expect(dir.get('nosuch', 'VolumeDriver')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(dir.get('x/off', 'VolumeDriver')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: 'plugin x/off:latest found but disabled' });
    expect((await dir.all('VolumeDriver')).map((e) => e.name)).toEqual(['x/on:latest', 'x/prop:latest']);
  });
});
