import { z } from 'zod';
import { InvalidArgumentError } from '@drydock/errors';

export { z } from 'zod';

/**
 * Parses `env` with a zod schema and reports every bad variable at once.
 * This is the only place that reads process.env (callers pass it in main.ts).
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const res = schema.safeParse(env);
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new InvalidArgumentError(`invalid configuration:\n${lines.join('\n')}`);
}

/** A positive integer given as an environment string. */
export const envInt = (def: number) => z.coerce.number().int().nonnegative().default(def);
/** "true"/"1"/"yes" and "false"/"0"/"no" as an environment string. */
export const envBool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
