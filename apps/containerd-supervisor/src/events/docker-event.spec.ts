import { containerEvent, execAction, healthStatusAction, imageEvent } from './docker-event';

const ID = 'a'.repeat(64);
const NOW = new Date('2024-05-06T07:08:09.123Z');

describe('containerEvent', () => {
  it('builds a start event exactly as dockerd 20.10 serialises it', () => {
    const ev = containerEvent('start', { id: ID, name: '/web', image: 'nginx:alpine', labels: { app: 'shop' } }, NOW);
    expect(JSON.parse(JSON.stringify(ev))).toEqual({
      status: 'start',
      id: ID,
      from: 'nginx:alpine',
      Type: 'container',
      Action: 'start',
      Actor: { ID, Attributes: { app: 'shop', image: 'nginx:alpine', name: 'web' } },
      scope: 'local',
      time: 1714979289,
      timeNano: 1714979289123000000,
    });
  });

  it('puts exitCode in die attributes and lets image and name win over labels', () => {
    const ev = containerEvent('die', { id: ID, name: 'job', image: 'busybox', labels: { name: 'spoof', image: 'spoof', tier: 'x' }, attributes: { exitCode: '137' } }, NOW);
    expect(ev.Actor.Attributes).toEqual({ exitCode: '137', name: 'job', image: 'busybox', tier: 'x' });
  });

  it('lets labels overwrite action attributes, as copyAttributes does', () => {
    const ev = containerEvent('kill', { id: ID, name: 'x', image: 'busybox', labels: { signal: 'label' }, attributes: { signal: '15' } }, NOW);
    expect(ev.Actor.Attributes.signal).toBe('label');
  });

  it('omits from when the container has no image attribute', () => {
    const ev = containerEvent('destroy', { id: ID, name: 'x' }, NOW);
    expect('from' in JSON.parse(JSON.stringify(ev))).toBe(false);
    expect(ev.Actor.Attributes).toEqual({ name: 'x' });
  });

  it('formats exec actions with the command in the action', () => {
    expect(execAction('exec_create', 'sh', ['-c', 'echo hi'])).toBe('exec_create: sh -c echo hi');
    // dockerd joins with a space even when there are no args
    expect(execAction('exec_start', 'date', [])).toBe('exec_start: date ');
    expect(healthStatusAction('healthy')).toBe('health_status: healthy');
    const ev = containerEvent('exec_die', { id: ID, name: 'x', image: 'busybox', attributes: { execID: 'e1', exitCode: '0' } }, NOW);
    expect(ev.Actor.Attributes).toMatchObject({ execID: 'e1', exitCode: '0' });
  });

  it('keeps time and timeNano consistent with the current clock by default', () => {
    const before = Date.now();
    const ev = containerEvent('create', { id: ID, name: 'x' });
    // timeNano is a double near 1.7e18 (256 ns apart): compare at millisecond precision.
    const ms = Math.round(ev.timeNano / 1e6);
    expect(ev.time).toBe(Math.floor(ms / 1000));
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
    expect(JSON.stringify(ev.timeNano)).toMatch(/^\d+$/); // no exponent: Go decodes it as int64
  });
});

describe('imageEvent', () => {
  it('has status and id but no from', () => {
    const ev = imageEvent('tag', { id: 'sha256:' + 'b'.repeat(64), name: 'me/app:1', labels: { maintainer: 'me' } }, NOW);
    expect(JSON.parse(JSON.stringify(ev))).toEqual({
      status: 'tag',
      id: 'sha256:' + 'b'.repeat(64),
      Type: 'image',
      Action: 'tag',
      Actor: { ID: 'sha256:' + 'b'.repeat(64), Attributes: { maintainer: 'me', name: 'me/app:1' } },
      scope: 'local',
      time: 1714979289,
      timeNano: 1714979289123000000,
    });
  });
});
