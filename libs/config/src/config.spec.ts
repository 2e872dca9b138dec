import * as z from 'zod/mini';
import { envBool, envInt, envNatsReplicas, envNatsServers, loadConfig } from './index';

describe('loadConfig', () => {
  const schema = z.object({ PORT: envInt(8080), DEBUG: envBool(false), NAME: z.string().check(z.minLength(1)) });

  it('parses with defaults', () => {
    expect(loadConfig(schema, { NAME: 'a' })).toEqual({ PORT: 8080, DEBUG: false, NAME: 'a' });
    expect(loadConfig(schema, { NAME: 'a', PORT: '9', DEBUG: '1' })).toEqual({ PORT: 9, DEBUG: true, NAME: 'a' });
  });

  it('reports every bad variable at once', () => {
    expect(() => loadConfig(schema, { PORT: 'x', DEBUG: 'maybe' })).toThrow(/PORT[\s\S]*DEBUG[\s\S]*NAME|PORT[\s\S]*NAME[\s\S]*DEBUG/);
  });
});

describe('NATS settings', () => {
  const schema = z.object({ DRYDOCK_NATS_URL: envNatsServers(), DRYDOCK_NATS_REPLICAS: envNatsReplicas() });

  it('takes one or several servers, comma-separated, and replicas 1 by default', () => {
    expect(loadConfig(schema, {})).toEqual({ DRYDOCK_NATS_URL: ['nats://127.0.0.1:4222'], DRYDOCK_NATS_REPLICAS: 1 });
    expect(loadConfig(schema, { DRYDOCK_NATS_URL: 'nats://10.0.0.1:4222, nats://10.0.0.1:4223,10.0.0.2:4222', DRYDOCK_NATS_REPLICAS: '3' })).toEqual({
      DRYDOCK_NATS_URL: ['nats://10.0.0.1:4222', 'nats://10.0.0.1:4223', '10.0.0.2:4222'],
      DRYDOCK_NATS_REPLICAS: 3,
    });
  });

  it('rejects empty members, paths and replicas outside 1..5', () => {
    for (const url of ['', 'nats://a:1,,nats://b:2', 'nats://a:1/x', 'nats://a b:1']) {
      expect(() => loadConfig(schema, { DRYDOCK_NATS_URL: url })).toThrow(/DRYDOCK_NATS_URL: expected one or more NATS URLs/);
    }
    for (const r of ['0', '6', '1.5', 'x']) expect(() => loadConfig(schema, { DRYDOCK_NATS_REPLICAS: r })).toThrow(/DRYDOCK_NATS_REPLICAS/);
  });
});
