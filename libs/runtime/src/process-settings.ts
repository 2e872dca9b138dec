/**
 * How every launcher starts a service (npm start's stack, the test harnesses, the bench, the images).
 *
 * A 1 MB young generation keeps an idle service about 15 MB lower (tools/bench/supervisor-bench.ts) at no
 * measurable latency cost. No --enable-source-maps: it costs each service about 20 MB (gateway 74 -> 94 MB
 * idle); stack traces point into the bundle (dist/apps/<app>/main.js.map maps them back by hand).
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1'];

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
