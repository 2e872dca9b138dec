/**
 * How every launcher starts a service (npm start's stack, the test harnesses, the bench, the images).
 *
 * A 1 MB young generation keeps an idle service about 15 MB lower (tools/bench/supervisor-bench.ts) at no
 * measurable latency cost. No --enable-source-maps: it costs each service about 20 MB (gateway 74 -> 94 MB
 * idle); stack traces point into the bundle (dist/apps/<app>/main.js.map maps them back by hand).
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * Flags of one service on top of the common ones. The builder runs without V8's optimizing compiler
 * (TurboFan; Sparkplug's baseline code stays): its heavy work is native (hashing, file and socket I/O), so a
 * 2,000-file COPY cost 6 % more builder CPU (1.65 vs 1.55 s) at the same wall time, and the compiler's code
 * pages of the node binary are never touched: 3.7 MB less resident, idle after builds 63 -> 58 MB.
 */
const SERVICE_EXTRA_FLAGS: Readonly<Record<string, readonly string[]>> = { builder: ['--max-opt=1'] };

/** The node flags a launcher starts the service `app` (its apps/ directory name) with. */
export function serviceNodeFlags(app: string, common: readonly string[] = SERVICE_NODE_FLAGS): string[] {
  return [...common, ...(SERVICE_EXTRA_FLAGS[app] ?? [])];
}

/**
 * glibc malloc settings read at process start. With its defaults the mmap threshold grows after a large
 * buffer is freed, so later stream chunks (64 KB to a few MB) land in the heap and its freed holes stay
 * resident: the supervisor ended a CLI load at 97 MB. Fixed thresholds give them back; two arenas bound
 * what libuv's threads keep. Measured with `npm run bench:memory -- --rounds 2` (after the load):
 * supervisor 97 -> 69-74 MB, gateway 85 -> 78-80 MB, builder 68 -> 62-64 MB.
 */
export const SERVICE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
