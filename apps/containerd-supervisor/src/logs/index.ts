/**
 * Container logs: the native drydock-logger (native/drydock-logger.c) writes
 * framed records per container run; these modules spawn it and read its files.
 */
export { spawnLogger, type LoggerHandle, type SpawnLoggerOptions } from './logger-process';
export { readLogs, type LogEntry, type ReadLogsOptions } from './log-reader';
export {
  CorruptLogError,
  encodeLogRecord,
  LogRecordParser,
  LOG_RECORD_HEADER_BYTES,
  LOG_RECORD_MAGIC,
  LOG_RECORD_MAX_LINE_BYTES,
  type LogRecord,
  type LogStream,
} from './log-record';
