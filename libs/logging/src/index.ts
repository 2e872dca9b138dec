import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** Service name, printed with every line so a shared terminal stays readable. */
  service: string;
  level: string;
}

/**
 * Builds the process' one root logger; classes take it by injection and call
 * `child({ component })`. Credentials are redacted wherever they appear.
 */
export function createLogger(config: LoggerConfig, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.level,
    base: { service: config.service, pid: process.pid },
    redact: { paths: ['password', '*.password', 'auth', '*.auth', 'authorization', '*.authorization', 'identitytoken', '*.identitytoken'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
