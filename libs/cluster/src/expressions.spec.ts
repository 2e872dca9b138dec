import { extractPlacement, matchExpr, parseExprs, reschedulesOnNodeFailure, type Expr } from './expressions';

describe('parseExprs (Swarm filter/expr_test.go)', () => {
  it.each(['1node', 'node ==node1', 'no*de==node1', 'no$de==node1', 'node=='])('refuses %s', (t) => {
    expect(() => parseExprs([t])).toThrow();
  });
  it('reads keys and values as Swarm did', () => {
    expect(parseExprs(['NoDe==node1'])[0]).toMatchObject({ key: 'NoDe', value: 'node1', operator: '==', soft: false });
    expect(parseExprs(['no.de==node1'])[0]).toMatchObject({ key: 'no.de', value: 'node1' });
    expect(parseExprs(['_node==_node1'])[0]).toMatchObject({ key: '_node', value: '_node1' });
    expect(parseExprs(['node==*node*'])[0]).toMatchObject({ value: '*node*' });
    expect(parseExprs(['node==/(?i)^[a-b]+c*(n|b)$/'])[0]).toMatchObject({ value: '/(?i)^[a-b]+c*(n|b)$/' });
    expect(parseExprs(['node==node 1'])[0]).toMatchObject({ value: 'node 1' });
    expect(parseExprs(['region!=~us-*'])[0]).toMatchObject({ key: 'region', operator: '!=', value: 'us-*', soft: true });
  });
  it("gives Swarm's texts", () => {
    expect(() => parseExprs(['a==b'])).toThrow("Key 'a' is invalid");
    expect(() => parseExprs(['node==a,b'])).toThrow("Value 'a,b' is invalid");
    expect(() => parseExprs(['node=b'])).toThrow('One of operator ==, != is expected');
  });
});

describe('matchExpr (Swarm TestMatch)', () => {
  const e = (operator: '==' | '!=', value: string): Expr => ({ key: 'k', operator, value, soft: false });
  it('matches plain values, globs and negations', () => {
    expect(matchExpr(e('==', 'foo'), ['foo'])).toBe(true);
    expect(matchExpr(e('==', 'foo'), ['bar'])).toBe(false);
    expect(matchExpr(e('==', 'foo'), ['foo', 'bar'])).toBe(true);
    expect(matchExpr(e('!=', 'foo'), ['foo'])).toBe(false);
    expect(matchExpr(e('!=', 'foo'), ['bar'])).toBe(true);
    expect(matchExpr(e('!=', 'foo'), ['bar', 'foo'])).toBe(false);
    expect(matchExpr(e('==', 'f*o'), ['fuo'])).toBe(true);
    expect(matchExpr(e('!=', 'f*o'), ['foo', 'fuo', 'bar'])).toBe(false);
    expect(matchExpr(e('==', 'f*o'), ['xfoo'])).toBe(false);
  });
  it('matches a value without pattern characters whole, and a dot still as any character', () => {
    expect(matchExpr(e('==', 'c12'), ['c123', 'xc12'])).toBe(false);
    expect(matchExpr(e('==', 'nginx:1-25'), ['nginx:1-25'])).toBe(true);
    expect(matchExpr(e('!=', 'c12'), ['c123'])).toBe(true);
    expect(matchExpr(e('==', 'nginx:1.25'), ['nginx:1x25'])).toBe(true);
    expect(matchExpr(e('==', ''), [''])).toBe(true);
  });
  it("reads /regexp/ with Go's leading flags, unanchored", () => {
    expect(matchExpr(e('==', '/(?i)^[a-b]+c*(n|b)$/'), ['ABn'])).toBe(true);
    expect(matchExpr(e('==', '/node[0-9]/'), ['my-node3-x'])).toBe(true);
    expect(matchExpr(e('==', '/node[/'), ['node['])).toBe(false);
  });
});

describe('extractPlacement', () => {
  it('takes the expressions out of the env and stores them in the labels as Swarm did', () => {
    const ask = extractPlacement(['A=1', 'constraint:node==b', 'affinity:container==db', 'reschedule:on-node-failure', 'whitelist:node==x', 'B=c:d'], {
      'com.docker.swarm.constraints': '["region==us-east"]',
    });
    expect(ask.env).toEqual(['A=1', 'B=c:d']);
    expect(ask.constraints).toEqual(['region==us-east', 'node==b']);
    expect(ask.affinities).toEqual(['container==db']);
    expect(ask.labels['com.docker.swarm.constraints']).toBe('["region==us-east","node==b"]');
    expect(ask.labels['com.docker.swarm.reschedule-policies']).toBe('["on-node-failure"]');
    expect(ask).toMatchObject({ placementAsked: true, rescheduleOnNodeFailure: true, whitelists: ['node==x'] });
  });
  it('reports no placement for a plain container', () => {
    const ask = extractPlacement(['PATH=/bin', 'reschedule:off'], { a: 'b' });
    expect(ask).toMatchObject({ placementAsked: false, rescheduleOnNodeFailure: false, env: ['PATH=/bin'] });
  });
  it('writes JSON as Go does', () => {
    expect(extractPlacement(['affinity:image==a<b'], {}).labels['com.docker.swarm.affinities']).toBe('["image==a\\u003cb"]');
  });
  it('refuses bad labels and reschedule policies', () => {
    expect(() => extractPlacement([], { 'com.docker.swarm.affinities': 'container==x' })).toThrow('invalid label com.docker.swarm.affinities');
    expect(() => extractPlacement(['reschedule:always'], {})).toThrow('invalid reschedule policy: always');
    expect(() => extractPlacement(['reschedule:off', 'reschedule:on-node-failure'], {})).toThrow('too many reschedule policies');
  });
});

describe('reschedulesOnNodeFailure', () => {
  it("reads the label a create stored, as Swarm's policy", () => {
    expect(reschedulesOnNodeFailure(extractPlacement(['reschedule:on-node-failure'], {}).labels)).toBe(true);
    expect(reschedulesOnNodeFailure({ 'com.docker.swarm.reschedule-policies': '["on-node-failure"]' })).toBe(true);
    for (const labels of <Array<Record<string, string> | undefined>>[undefined, {}, { 'com.docker.swarm.reschedule-policies': '["off"]' }, { 'com.docker.swarm.reschedule-policies': 'on-node-failure' }]) {
      expect(reschedulesOnNodeFailure(labels)).toBe(false);
    }
  });
});
