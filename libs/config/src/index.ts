import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { InvalidArgumentError } from '@drydock/errors';

// zod/mini, not full zod: its free functions tree-shake (full zod put ~730 KB into every bundle).
// Callers import it themselves (`import * as z from 'zod/mini'`) rather than through a re-export
// from here: esbuild keeps the whole namespace (~690 KB) of an `export * as z` that anyone uses.

// zod/mini loads no locale, so every message would read "Invalid input"; keep full zod's English ones.
// (Imported by name: z.locales.en() would keep all ~50 locales, ~360 KB.)
z.config(en());

/**
 * Parses `env` with a zod schema and reports every bad variable at once.
 * This is the only place that reads process.env (callers pass it in main.ts).
 */
export function loadConfig<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const res = schema.safeParse(env);
  if (res.success) return res.data;
  const lines = res.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new InvalidArgumentError(`invalid configuration:\n${lines.join('\n')}`);
}

/** A positive integer given as an environment string. */
export const envInt = (def: number) => z._default(z.coerce.number().check(z.int(), z.nonnegative()), def);
/** "true"/"1"/"yes" and "false"/"0"/"no" as an environment string. */
export const envBool = (def: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false', '1', '0', 'yes', 'no', '']), def ? 'true' : 'false'),
    z.transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );
