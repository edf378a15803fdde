import pino, { type Logger } from 'pino';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
const REDACT = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'config.TELEGRAM_BOT_TOKEN',
  'TELEGRAM_BOT_TOKEN',
];

/** Removes anything that looks like a Telegram bot token from free text (error messages, URLs). */
export function redactSecrets(text: string): string {
  return text.replace(/\b\d{6,12}:[A-Za-z0-9_-]{30,}\b/g, '<redacted-token>');
}

/** JSON to stderr in production, pretty when stderr is a terminal; stdout stays the chat. */
export function createLogger(level: string): Logger {
  const pretty = process.stderr.isTTY;
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '<redacted>' },
      formatters: {
        log: (object) => JSON.parse(redactSecrets(JSON.stringify(object))) as Record<string, unknown>,
      },
    },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } })
      : pino.destination(2),
  );
}
