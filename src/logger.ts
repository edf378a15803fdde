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

/**
 * Removes anything that looks like a Telegram bot token from free text (error messages, URLs). Not
 * bounded by \b: in a Bot API URL the token follows `bot` with no word break.
 */
export function redactSecrets(text: string): string {
  return text.replace(/(?<!\d)\d{6,12}:[\w-]{30,}/g, '<redacted-token>');
}

/** Replaces each configured secret value in `text`. */
export function scrubValues(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret.length >= 6 ? out.split(secret).join('<redacted>') : out), redactSecrets(text));
}

/**
 * JSON to stderr in production, pretty when stderr is a terminal; stdout stays the chat. Every
 * configured secret value is scrubbed from each line, wherever it appears.
 */
export function createLogger(level: string, secrets: readonly string[] = []): Logger {
  const pretty = process.stderr.isTTY;
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '<redacted>' },
      formatters: {
        log: (object) => JSON.parse(scrubValues(JSON.stringify(object), secrets)) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubValues(arg, secrets) : arg)) as Parameters<typeof method>);
        },
      },
    },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } })
      : pino.destination(2),
  );
}
