import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  json: boolean;
  /** Extra fields on every line (e.g. node). */
  base?: Record<string, unknown>;
  /** Where text/JSON goes; stdout by default. */
  destination?: NodeJS.WritableStream;
}

/**
 * One structured logger for the whole agent: JSON lines with JSON_LOGGING, readable text otherwise.
 * Child loggers carry event id, node, phase and group so every line about an event can be found.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level as LevelWithSilent;
  const base = { ...(opts.base ?? {}) };
  if (opts.json) {
    return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, opts.destination ?? process.stdout);
  }
  const stream = pretty({
    colorize: false,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    ignore: 'pid,hostname',
    destination: opts.destination ?? process.stdout,
  });
  return pino({ level, base }, stream);
}

/** A logger that drops everything; for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
