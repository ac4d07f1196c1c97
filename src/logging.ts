// Structured JSON logs (pino). Nothing here ever logs a request body, a response
// body, a query string or an Authorization header: the places a secret or a
// token could appear. Values are kept out by construction, and the redact list
// is a second line of defence.
import { pino, type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'secrets-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'token', 'password', 'value'],
        censor: '[redacted]',
      },
    },
    // stdout by default, written asynchronously: a line per request must not cost a write(2) on the
    // request path. Lines written while a write is in flight go out together; pino flushes
    // synchronously on exit, so a stopping or crashing process keeps its last lines.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type { Logger };
