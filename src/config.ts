import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Decimal } from './engine/index.js';

const emptyAsUndefined = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
const decimalString = (fallback: string) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .default(fallback)
      .refine((s) => /^\d+(\.\d+)?$/.test(s), 'must be a plain positive number such as 1000 or 0.5')
      .transform((s) => new Decimal(s)),
  );
const int = (fallback: number) => z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(fallback));
const intOrZero = (fallback: number) => z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).default(fallback));

const idList = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() !== '' ? value : ''),
  z
    .string()
    .regex(/^(\s*\d{1,20}\s*(,\s*\d{1,20}\s*)*)?$/, 'must be a comma-separated list of numeric Telegram user ids')
    .transform((s) => s.split(',').map((id) => id.trim()).filter(Boolean)),
);

const schema = z.object({
  ROLE: z.preprocess(emptyAsUndefined, z.enum(['all', 'bot', 'worker']).default('all')),
  TRADING_MODE: z.preprocess(emptyAsUndefined, z.enum(['paper', 'live']).default('paper')),
  REDIS_URL: optionalString,
  REDIS_PREFIX: z.preprocess(emptyAsUndefined, z.string().regex(/^[\w:.-]{1,40}$/).default('fab:')),
  DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./data')),
  LOG_LEVEL: z.preprocess(emptyAsUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()),
  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: z.preprocess(emptyAsUndefined, z.string().url('must be a URL such as http://127.0.0.1:8081').optional()),
  OPS_CHAT_ID: z.preprocess(emptyAsUndefined, z.string().regex(/^-?\d{1,20}$/, 'must be a numeric Telegram chat id such as -1001234567890').optional()),
  ADMIN_IDS: idList,
  TRADER_IDS: idList,
  VIEWER_IDS: idList,
  COMMAND_MAX_AGE_MS: int(120_000),
  ALERT_MAX_PER_MINUTE: int(20),
  ALERT_MIN_GAP_MS: intOrZero(1_000),
  ALERT_MAX_BACKOFF_MS: int(30_000),
  OPERATION_CONCURRENCY: int(4),
  /** A coin lock left by a dead process frees itself after this long. */
  LOCK_TTL_MS: int(15_000),
  EXCHANGE: optionalString,
  SPOT_EXCHANGE: optionalString,
  PERP_EXCHANGE: optionalString,
  EXCHANGE_SANDBOX: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).default('false').transform((v) => v === 'true')),
  PERP_MARGIN_MODE: z.preprocess(emptyAsUndefined, z.enum(['isolated', 'cross']).default('isolated')),
  BINANCE_API_KEY: optionalString,
  BINANCE_API_SECRET: optionalString,
  BYBIT_API_KEY: optionalString,
  BYBIT_API_SECRET: optionalString,
  OKX_API_KEY: optionalString,
  OKX_API_SECRET: optionalString,
  OKX_API_PASSWORD: optionalString,
  SIM_SEED: intOrZero(42),
  SIM_FAULTS: optionalString,
  SIM_LEG_LATENCY_MS: intOrZero(50),
  HEDGE_TIMEOUT_MS: int(5_000),
  MAX_POSITION_NOTIONAL_USD: decimalString('25000'),
  MAX_TOTAL_EXPOSURE_USD: decimalString('100000'),
  MAX_OPEN_POSITIONS: int(10),
  PERP_LEVERAGE: decimalString('1'),
  DRIFT_TOLERANCE_BPS: decimalString('50'),
  MAINTENANCE_MARGIN_RATE: decimalString('0.005'),
  LIQUIDATION_ALERT_PCT: decimalString('20'),
  FUNDING_MISMATCH_TOLERANCE_USD: decimalString('0.01'),
  FUNDING_MISMATCH_TOLERANCE_PCT: decimalString('2'),
  QUOTE_TOLERANCE_BPS: decimalString('50'),
  QUOTE_TTL_MS: int(60_000),
  PAPER_START_USDT: decimalString('50000'),
  FUNDING_HOLD_DAYS: int(7),
  FUNDING_ALERT_APR_PCT: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'must be a plain positive number of percent such as 25')
      .transform((s) => new Decimal(s))
      .optional(),
  ),
  PRICE_REFRESH_MS: int(5_000),
  DELTA_CHECK_MS: int(15_000),
  FUNDING_SCAN_MS: int(60_000),
});

export type AppConfig = z.infer<typeof schema>;

/**
 * Settings from an optional file (`CONFIG_FILE`): JSON with string values, or `KEY=value` lines
 * as in `.env`. The environment wins over the file.
 */
function readConfigFile(path: string | undefined): Record<string, string> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`invalid configuration:\n  CONFIG_FILE: cannot read ${path}`);
  }
  if (path.endsWith('.json')) return readJsonSettings(path, text);
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1] && !line.trimStart().startsWith('#')) values[match[1]] = (match[2] ?? '').replace(/^(['"])(.*)\1$/, '$2');
  }
  return values;
}

/**
 * A JSON settings file: an object of strings, numbers or booleans. No error quotes the file — its
 * text may hold a secret, and `JSON.parse`'s own message quotes the text it stopped at.
 */
function readJsonSettings(path: string, text: string): Record<string, string> {
  const invalid = (problem: string) => new Error(`invalid configuration:\n  CONFIG_FILE: ${path}${problem}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const position = /at position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
    const line = position === undefined ? undefined : text.slice(0, Number(position)).split('\n').length;
    throw invalid(` is not valid JSON${line === undefined ? '' : ` (at line ${line})`}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw invalid(' must hold one JSON object of settings, such as {"MAX_OPEN_POSITIONS": "3"}');
  }
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    // A key outside the schema is not named: a mangled file can turn a value into a key.
    const name = key in schema.shape ? key : 'a setting';
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw invalid(`: ${name} must be a string, number or boolean, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object'}`);
    }
    settings[key] = String(value);
  }
  return settings;
}

/** Names of settings that hold secrets: never logged, never echoed in an error. */
export const SECRET_KEYS = [
  'TELEGRAM_BOT_TOKEN',
  'BINANCE_API_KEY',
  'BINANCE_API_SECRET',
  'BYBIT_API_KEY',
  'BYBIT_API_SECRET',
  'OKX_API_KEY',
  'OKX_API_SECRET',
  'OKX_API_PASSWORD',
] as const;

/**
 * Reads the configuration from the environment. A bad value stops the start with one line per
 * variable naming it and saying what it must be — never echoing the value, which may be secret.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): AppConfig {
  const env = { ...readConfigFile(environment.CONFIG_FILE), ...environment };
  const parsed = schema.safeParse(env);
  if (parsed.success) {
    if (parsed.data.TELEGRAM_BOT_TOKEN && !parsed.data.OPS_CHAT_ID) {
      throw new Error('invalid configuration:\n  OPS_CHAT_ID: required with TELEGRAM_BOT_TOKEN (the ops group id where alerts go)');
    }
    if (parsed.data.TELEGRAM_BOT_TOKEN && parsed.data.ADMIN_IDS.length === 0) {
      throw new Error('invalid configuration:\n  ADMIN_IDS: required with TELEGRAM_BOT_TOKEN (at least one admin user id)');
    }
    const venues = [parsed.data.SPOT_EXCHANGE ?? parsed.data.EXCHANGE, parsed.data.PERP_EXCHANGE ?? parsed.data.EXCHANGE];
    if (parsed.data.TRADING_MODE === 'live' && venues.some((v) => !v)) {
      throw new Error('invalid configuration:\n  EXCHANGE: required with TRADING_MODE=live (or SPOT_EXCHANGE and PERP_EXCHANGE)');
    }
    for (const [name, venue] of [['SPOT_EXCHANGE', venues[0]], ['PERP_EXCHANGE', venues[1]]] as const) {
      if (venue && !['simulated', 'binance', 'bybit', 'okx'].includes(venue)) {
        throw new Error(`invalid configuration:\n  ${parsed.data.EXCHANGE === venue ? 'EXCHANGE' : name}: not supported; use binance, bybit, okx or simulated`);
      }
    }
    if (venues.includes('simulated') && venues[0] !== venues[1]) {
      throw new Error('invalid configuration:\n  EXCHANGE: the simulated venue cannot be mixed with a real one');
    }
    for (const venue of new Set(venues)) {
      if (!venue || venue === 'simulated') continue;
      const key = `${venue.toUpperCase()}_API_KEY` as const;
      const secret = `${venue.toUpperCase()}_API_SECRET` as const;
      const hasKey = Boolean(parsed.data[key as keyof AppConfig]);
      const hasSecret = Boolean(parsed.data[secret as keyof AppConfig]);
      if (hasKey !== hasSecret) throw new Error(`invalid configuration:\n  ${hasKey ? secret : key}: required with ${hasKey ? key : secret}`);
      if (parsed.data.TRADING_MODE === 'live' && !hasKey) throw new Error(`invalid configuration:\n  ${key}: required with TRADING_MODE=live on ${venue}`);
    }
    return parsed.data;
  }
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
