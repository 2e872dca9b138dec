import * as z from 'zod/mini';
import { envBool, envInt, loadConfig } from './index';

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
