import type { LogBackend, LogEntryOut, LogReadOptions, LogWriterHandle, LogWriterOptions } from '../containers/ports';
import { readLogs } from '../logs/log-reader';
import { spawnLogger } from '../logs/logger-process';

/** LogBackend over the native drydock-logger and the record reader. */
export class NativeLogBackend implements LogBackend {
  constructor(private readonly binary: string) {}

  spawnWriter(opts: LogWriterOptions): Promise<LogWriterHandle> {
    return spawnLogger({ binary: this.binary, ...opts });
  }

  read(path: string, opts: LogReadOptions): AsyncIterable<LogEntryOut> {
    return readLogs(path, opts);
  }
}
