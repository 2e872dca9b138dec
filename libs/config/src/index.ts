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

const NATS_SERVER = /^((nats|tls|ws|wss):\/\/)?[^\s,/]+$/;

/**
 * DRYDOCK_NATS_URL: one or more NATS servers, comma-separated (a NATS cluster's members), as nats.js's
 * `servers` array. The client reconnects to any of them, so a cluster survives one server's loss.
 */
export const envNatsServers = (def = 'nats://127.0.0.1:4222') =>
  z.pipe(
    z._default(z.string(), def).check(
      z.refine((v) => {
        const parts = v.split(',').map((s) => s.trim());
        return parts.length > 0 && parts.every((s) => NATS_SERVER.test(s));
      }, 'expected one or more NATS URLs, comma-separated (nats://host:port,nats://host:port)'),
    ),
    z.transform((v) => v.split(',').map((s) => s.trim())),
  );

/**
 * DRYDOCK_NATS_REPLICAS: JetStream replicas of every stream and KV bucket a service creates (1 on a single
 * nats-server, 3 on a three-server cluster). JetStream allows at most 5; more than the cluster's servers fails.
 * It applies when a service creates one; an existing stream or bucket keeps its own.
 */
export const envNatsReplicas = () => z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(5)), 1);
