import type { LogBackend, LogEntryOut, LogReadOptions, LogWriterHandle, LogWriterOptions } from '../containers/ports';
import { readLogs } from '../logs/log-reader';
import { spawnLogger } from '../logs/logger-process';

/** LogBackend over the native drydock-logger and the record reader. */
export class NativeLogBackend implements LogBackend {
  constructor(private readonly binary: string) {}

  spawnWriter(opts: LogWriterOptions): Promise<LogWriterHandle> {
    return spawnLogger({ binary: this.binary, ...opts });
  }

  armPid(pid: number): void {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch {
      // the writer already armed itself and finished
    }
  }

  read(path: string, opts: LogReadOptions): AsyncIterable<LogEntryOut> {
    return readLogs(path, opts);
  }
}
