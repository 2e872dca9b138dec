import { InvalidArgumentError } from '@drydock/errors';
import { applyChanges, mergeConfig, mergeContainerConfig, type ImageRunConfig } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

const base: ImageRunConfig = {
  Env: ['PATH=/usr/bin:/bin', 'HOME=/root'],
  Cmd: ['sh'],
  Entrypoint: null,
  Labels: { a: '1' },
  WorkingDir: '/srv',
};

describe('applyChanges', () => {
  it('returns an equal copy for no changes and never mutates the input', () => {
    const input = structuredClone(base);
    const out = applyChanges(input, []);
    expect(out).toStrictEqual(base);
    expect(out).not.toBe(input);
    applyChanges(input, ['ENV X=1', 'LABEL b=2', 'CMD ["x"]', 'EXPOSE 80', 'VOLUME /v']);
    expect(input).toStrictEqual(base);
  });

  it('CMD and ENTRYPOINT in exec and shell form', () => {
    expect(applyChanges(base, ['CMD ["nginx", "-g", "daemon off;"]']).Cmd).toStrictEqual(['nginx', '-g', 'daemon off;']);
    expect(applyChanges(base, ['CMD echo $HOME "x"']).Cmd).toStrictEqual(['/bin/sh', '-c', 'echo $HOME "x"']);
    expect(applyChanges({ ...base, Shell: ['/bin/bash', '-lc'] }, ['CMD ls']).Cmd).toStrictEqual(['/bin/bash', '-lc', 'ls']);
    const ep = applyChanges(base, ['ENTRYPOINT ["/entry.sh"]']);
    expect(ep.Entrypoint).toStrictEqual(['/entry.sh']);
    // ENTRYPOINT clears the inherited Cmd ...
    expect(ep.Cmd).toBeNull();
    // ... unless a CMD came before it in the same change set.
    const both = applyChanges(base, ['CMD ["-v"]', 'ENTRYPOINT /entry.sh']);
    expect(both.Entrypoint).toStrictEqual(['/bin/sh', '-c', '/entry.sh']);
    expect(both.Cmd).toStrictEqual(['-v']);
    expect(applyChanges(base, ['ENTRYPOINT []']).Entrypoint).toBeNull();
    expect(applyChanges(base, ['CMD []']).Cmd).toStrictEqual([]);
    expect(applyChanges({ ...base, ArgsEscaped: true }, ['CMD x'])).not.toHaveProperty('ArgsEscaped');
  });

  it('ENV in both forms, replacing in place and expanding against the previous Env', () => {
    const out = applyChanges(base, ['ENV HOME /home/app', 'ENV A=1 B="v 2" PATH=$PATH:/opt/bin', 'ENV C=$A D=${B:-x}']);
    expect(out.Env).toStrictEqual([
      'PATH=/usr/bin:/bin:/opt/bin',
      'HOME=/home/app',
      'A=1',
      'B=v 2',
      'C=1',
      'D=v 2',
    ]);
    // Pairs of one instruction all see the Env from before it.
    expect(applyChanges({}, ['ENV X=1 Y=$X']).Env).toStrictEqual(['X=1', 'Y=']);
    expect(applyChanges({}, ['ENV K "quoted  value"']).Env).toStrictEqual(['K=quoted  value']);
  });

  it('EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD', () => {
    const out = applyChanges({ ...base, ExposedPorts: { '22/tcp': {} }, Env: ['P=8080 9090', 'U=app'] }, [
      'EXPOSE 80/tcp 53/udp $P',
      'LABEL b=2 "c d"="e f" a=$U',
      'USER $U:staff',
      'VOLUME ["/data", "/$U"]',
      'VOLUME /x /y',
      'WORKDIR rel/dir',
      'STOPSIGNAL SIGQUIT',
      'ONBUILD RUN make \\\n  install',
    ]);
    expect(out.ExposedPorts).toStrictEqual({ '22/tcp': {}, '80/tcp': {}, '53/udp': {}, '8080/tcp': {}, '9090/tcp': {} });
    expect(out.Labels).toStrictEqual({ a: 'app', b: '2', 'c d': 'e f' });
    expect(out.User).toBe('app:staff');
    expect(out.Volumes).toStrictEqual({ '/data': {}, '/app': {}, '/x': {}, '/y': {} });
    expect(out.WorkingDir).toBe('/srv/rel/dir');
    expect(out.StopSignal).toBe('SIGQUIT');
    expect(out.OnBuild).toStrictEqual(['RUN make   install']);
    expect(applyChanges({}, ['WORKDIR /abs/../keep']).WorkingDir).toBe('/abs/../keep');
    expect(applyChanges({}, ['WORKDIR a']).WorkingDir).toBe('/a');
  });

  it('HEALTHCHECK with flags and NONE', () => {
    expect(applyChanges({}, ['HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1.5s --retries=3 CMD curl -f http://x/']).Healthcheck).toStrictEqual({
      Test: ['CMD-SHELL', 'curl -f http://x/'],
      Interval: 5e9,
      Timeout: 90e9,
      StartPeriod: 1.5e9,
      Retries: 3,
    });
    expect(applyChanges({}, ['HEALTHCHECK CMD ["/check", "-q"]']).Healthcheck).toStrictEqual({ Test: ['CMD', '/check', '-q'] });
    expect(applyChanges({}, ['healthcheck none']).Healthcheck).toStrictEqual({ Test: ['NONE'] });
  });

  it.each([
    [['FOO bar'], 'foo is not a valid change command'],
    [['RUN make'], 'run is not a valid change command'],
    [['CMD ["a"]', 'FROM x'], 'from is not a valid change command'],
    [[''], 'file with no instructions'],
    [['ENV'], 'ENV requires at least one argument'],
    [['ENV =x'], 'ENV names can not be blank'],
    [['ENV K'], 'ENV must have two arguments'],
    [['LABEL'], 'LABEL requires at least one argument'],
    [['USER'], 'USER requires exactly one argument'],
    [['WORKDIR'], 'WORKDIR requires exactly one argument'],
    [['STOPSIGNAL'], 'STOPSIGNAL requires exactly one argument'],
    [['STOPSIGNAL SIGFOO'], 'Invalid signal: SIGFOO'],
    [['EXPOSE'], 'EXPOSE requires at least one argument'],
    [['EXPOSE 80/icmp'], 'Invalid proto: icmp'],
    [['VOLUME'], 'VOLUME requires at least one argument'],
    [['VOLUME [""]'], 'VOLUME specified can not be an empty string'],
    [['ONBUILD'], 'ONBUILD requires at least one argument'],
    [['ONBUILD ONBUILD RUN x'], "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    [['ONBUILD FROM x'], "FROM isn't allowed as an ONBUILD trigger"],
    [['CMD --foo=bar x'], 'Unknown flag: foo'],
    [['HEALTHCHECK'], 'HEALTHCHECK requires at least one argument'],
    [['HEALTHCHECK NONE x'], 'HEALTHCHECK NONE takes no arguments'],
    [['HEALTHCHECK CMD'], 'Missing command after HEALTHCHECK CMD'],
    [['HEALTHCHECK FOO x'], 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
    [['HEALTHCHECK --interval CMD x'], 'Missing a value on flag: interval'],
    [['HEALTHCHECK --interval=1s --interval=2s CMD x'], 'Duplicate flag specified: interval'],
    [['HEALTHCHECK --interval=10 CMD x'], 'time: missing unit in duration "10"'],
    [['HEALTHCHECK --interval=1us CMD x'], 'Interval "interval" cannot be less than 1ms'],
    [['HEALTHCHECK --retries=0 CMD x'], '--retries must be at least 1 (not 0)'],
    [['HEALTHCHECK --retries=x CMD x'], 'strconv.ParseInt: parsing "x": invalid syntax'],
    [['ENV A=${B'], 'failed to process "${B": missing \':\' in substitution'],
    [['CMD ["a", 1]'], 'when using JSON array syntax, arrays must be comprised of strings only'],
  ])('rejects %j', (changes, msg) => {
    expect(message(() => applyChanges(base, changes))).toBe(msg);
  });

  it('validates every instruction before applying any', () => {
    expect(() => applyChanges(base, ['ENV OK=1', 'BOGUS x'])).toThrow(exactly('bogus is not a valid change command'));
  });
});

describe('mergeConfig / mergeContainerConfig', () => {
  const image: ImageRunConfig = {
    Env: ['PATH=/img/bin', 'LANG=C'],
    Entrypoint: ['/docker-entrypoint.sh'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    WorkingDir: '/app',
    User: 'www',
    Labels: { maintainer: 'img', keep: 'img' },
    ExposedPorts: { '80/tcp': {} },
    Volumes: { '/cache': {} },
    StopSignal: 'SIGQUIT',
  };

  it('inherits everything from the image by default', () => {
    const p = mergeContainerConfig(image, { Hostname: 'abc' });
    expect(p).toStrictEqual({
      path: '/docker-entrypoint.sh',
      args: ['nginx', '-g', 'daemon off;'],
      env: ['PATH=/img/bin', 'HOSTNAME=abc', 'LANG=C'],
      cwd: '/app',
      user: 'www',
      labels: { maintainer: 'img', keep: 'img' },
    });
  });

  it('cmd override keeps the image entrypoint', () => {
    const p = mergeContainerConfig(image, { Cmd: ['nginx', '-T'], Hostname: 'h' });
    expect([p.path, ...p.args]).toStrictEqual(['/docker-entrypoint.sh', 'nginx', '-T']);
  });

  it('entrypoint override drops the image cmd', () => {
    const p = mergeContainerConfig(image, { Entrypoint: ['/bin/sh'], Hostname: 'h' });
    expect([p.path, ...p.args]).toStrictEqual(['/bin/sh']);
    const q = mergeContainerConfig(image, { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'id'], Hostname: 'h' });
    expect([q.path, ...q.args]).toStrictEqual(['/bin/sh', '-c', 'id']);
  });

  it('--entrypoint "" clears the entrypoint and needs a cmd', () => {
    const p = mergeContainerConfig(image, { Entrypoint: [''], Cmd: ['ls', '-l'], Hostname: 'h' });
    expect([p.path, ...p.args]).toStrictEqual(['ls', '-l']);
    expect(message(() => mergeContainerConfig(image, { Entrypoint: [''], Hostname: 'h' }))).toBe('No command specified');
  });

  it('an explicit empty entrypoint ([]) inherits the cmd but not the entrypoint', () => {
    const p = mergeContainerConfig(image, { Entrypoint: [], Hostname: 'h' });
    expect([p.path, ...p.args]).toStrictEqual(['nginx', '-g', 'daemon off;']);
  });

  it('No command specified when neither sets anything', () => {
    expect(message(() => mergeContainerConfig({ Env: [] }, {}))).toBe('No command specified');
    expect(message(() => mergeContainerConfig(undefined, { Cmd: [] }))).toBe('No command specified');
  });

  it('container env, user, workdir, labels win; tty adds TERM; home appended', () => {
    const p = mergeContainerConfig(
      image,
      { Env: ['LANG=en_US.UTF-8', 'X=1'], User: '1000:1000', WorkingDir: '/w', Labels: { keep: 'mine' }, Hostname: 'h', Tty: true },
      { home: '/' },
    );
    expect(p.env).toStrictEqual(['PATH=/img/bin', 'HOSTNAME=h', 'TERM=xterm', 'LANG=en_US.UTF-8', 'X=1', 'HOME=/']);
    expect(p.user).toBe('1000:1000');
    expect(p.cwd).toBe('/w');
    expect(p.labels).toStrictEqual({ maintainer: 'img', keep: 'mine' });
  });

  it('mergeConfig merges ports and volumes and keeps the image stop signal', () => {
    const m = mergeConfig({ Cmd: ['x'], ExposedPorts: { '443/tcp': {} }, Volumes: { '/data': {} } }, image);
    expect(m.ExposedPorts).toStrictEqual({ '80/tcp': {}, '443/tcp': {} });
    expect(m.Volumes).toStrictEqual({ '/data': {}, '/cache': {} });
    expect(m.StopSignal).toBe('SIGQUIT');
    expect(m.Env).toStrictEqual(['PATH=/img/bin', 'LANG=C']);
  });

  it('defaults the working directory to / and validates the container config', () => {
    expect(mergeContainerConfig(undefined, { Cmd: ['x'] }).cwd).toBe('/');
    expect(message(() => mergeContainerConfig(image, { WorkingDir: 'rel' }))).toBe(
      "the working directory 'rel' is invalid, it needs to be an absolute path",
    );
    expect(message(() => mergeContainerConfig(image, { Env: ['=x'] }))).toBe('invalid environment variable: =x');
    expect(message(() => mergeContainerConfig(image, { StopSignal: 'NOPE' }))).toBe('Invalid signal: NOPE');
  });
});
