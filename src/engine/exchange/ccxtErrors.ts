import {
  BotError,
  OrderRejectedError,
  OrderTimeoutError,
  VENUE_UNSUPPORTED,
  VenueError,
  type ErrorReaction,
} from '../domain/errors.js';

/**
 * What the adapter was doing when a venue call failed. Only `placeOrder` turns a lost answer into
 * an OrderTimeoutError (the order may exist: look it up); elsewhere a lost answer is just a retry.
 */
export type VenueAction = 'placeOrder' | 'read' | 'setup';

export interface VenueErrorContext {
  venue: string;
  action: VenueAction;
  /** Short description of the call for the message, e.g. `buy 0.01 BTC/USDT`. */
  what: string;
  /** Values that must never appear in a message (API key, secret, password). */
  secrets?: readonly string[];
}

const MAX_MESSAGE_CHARS = 400;
const REDACTED = '[redacted]';

/** Names of credentials and signatures in query strings, headers and JSON bodies. */
const SENSITIVE_NAME =
  'signature|sign|api[-_]?key|apikey|secret|password|passphrase|access[-_]?key|access[-_]?sign|access[-_]?passphrase|x-mbx-apikey|x-bapi-api-key|x-bapi-sign|ok-access-key|ok-access-sign|ok-access-passphrase|token';
const SENSITIVE_PAIR = new RegExp(`(["']?)\\b(${SENSITIVE_NAME})\\1(\\s*[:=]\\s*)(["']?)[^"'&\\s,;}]+`, 'gi');
const URL_WITH_QUERY = /(https?:\/\/[^\s"'<>?#]+)[?#][^\s"'<>]*/gi;
/** Long hex or base64 runs are signatures or keys; order ids are shorter or dashed. */
const LONG_TOKEN = /\b(?:[a-fA-F0-9]{32,}|[A-Za-z0-9]{40,})\b/g;

/**
 * Makes a venue or ccxt error message safe for logs and chat: no credentials, no signatures, no
 * query strings (ccxt puts the signed URL into network error messages), and short.
 */
export function redactVenueMessage(message: string, secrets: readonly string[] = []): string {
  let text = message;
  for (const secret of secrets) {
    if (secret.length >= 4) text = text.split(secret).join(REDACTED);
  }
  text = text
    .replace(URL_WITH_QUERY, `$1?${REDACTED}`)
    .replace(SENSITIVE_PAIR, `$1$2$1$3$4${REDACTED}`)
    .replace(LONG_TOKEN, REDACTED);
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

/**
 * ccxt's error classes from the most specific to BaseError, read off the prototype chain, so this
 * module needs no ccxt import (ccxt is loaded lazily) and subclasses map like their parents.
 */
export function ccxtErrorNames(err: unknown): string[] {
  const names: string[] = [];
  let proto: unknown = err !== null && typeof err === 'object' ? Object.getPrototypeOf(err) : null;
  while (proto && proto !== Error.prototype && proto !== Object.prototype) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.push(ctor.name);
    proto = Object.getPrototypeOf(proto);
  }
  return names;
}

export function isCcxtError(err: unknown, name: string): boolean {
  return ccxtErrorNames(err).includes(name);
}

interface Rule {
  /** A ccxt class name; the first rule whose class is in the error's chain applies. */
  ccxt: string;
  /** How a failed order placement is reported. */
  placeOrder: 'rejected' | 'insufficient' | 'unknown' | Outcome;
  /** How any other call is reported. */
  other: Outcome;
}

interface Outcome {
  code: string;
  reaction: ErrorReaction;
  label: string;
}

const RATE_LIMITED: Outcome = { code: 'VENUE_RATE_LIMITED', reaction: 'retry', label: 'rate limit hit' };
const UNAVAILABLE: Outcome = { code: 'VENUE_UNAVAILABLE', reaction: 'retry', label: 'venue unavailable' };
const AUTH: Outcome = { code: 'VENUE_AUTH', reaction: 'alert', label: 'API key refused' };

// Order matters: subclasses before their parents (ccxt's hierarchy, base/errorHierarchy.js).
const RULES: readonly Rule[] = [
  { ccxt: 'InsufficientFunds', placeOrder: 'insufficient', other: { code: 'INSUFFICIENT_FUNDS', reaction: 'refuse', label: 'insufficient funds' } },
  { ccxt: 'BadSymbol', placeOrder: 'rejected', other: { code: 'VENUE_BAD_SYMBOL', reaction: 'refuse', label: 'unknown market' } },
  { ccxt: 'InvalidOrder', placeOrder: 'rejected', other: { code: 'INVALID_ORDER', reaction: 'refuse', label: 'invalid order' } },
  { ccxt: 'OperationRejected', placeOrder: 'rejected', other: { code: 'VENUE_REFUSED', reaction: 'alert', label: 'refused' } },
  { ccxt: 'AuthenticationError', placeOrder: AUTH, other: AUTH },
  { ccxt: 'RateLimitExceeded', placeOrder: RATE_LIMITED, other: RATE_LIMITED },
  { ccxt: 'DDoSProtection', placeOrder: RATE_LIMITED, other: RATE_LIMITED },
  // The venue refused the request for its timestamp: nothing was placed; fix the clock and retry.
  { ccxt: 'InvalidNonce', placeOrder: { code: 'VENUE_CLOCK_SKEW', reaction: 'retry', label: 'request timestamp refused (clock skew)' }, other: { code: 'VENUE_CLOCK_SKEW', reaction: 'retry', label: 'request timestamp refused (clock skew)' } },
  // Maintenance is an explicit refusal; any other 5xx on an order leaves its fate unknown.
  { ccxt: 'OnMaintenance', placeOrder: UNAVAILABLE, other: UNAVAILABLE },
  { ccxt: 'ExchangeNotAvailable', placeOrder: 'unknown', other: UNAVAILABLE },
  { ccxt: 'RequestTimeout', placeOrder: 'unknown', other: { code: 'VENUE_TIMEOUT', reaction: 'retry', label: 'no answer in time' } },
  { ccxt: 'NetworkError', placeOrder: 'unknown', other: { code: 'VENUE_NETWORK', reaction: 'retry', label: 'network error' } },
  { ccxt: 'BadResponse', placeOrder: 'unknown', other: { code: 'VENUE_BAD_RESPONSE', reaction: 'retry', label: 'unreadable answer' } },
  // ccxt files codes it does not know, server-side timeouts (bybit 5004, 10016) and "request is
  // duplicate" (bybit 10014) under these broad classes: on an order they prove nothing was placed.
  { ccxt: 'BadRequest', placeOrder: 'unknown', other: { code: 'VENUE_BAD_REQUEST', reaction: 'alert', label: 'request refused' } },
  { ccxt: 'NotSupported', placeOrder: { code: VENUE_UNSUPPORTED, reaction: 'alert', label: 'not supported' }, other: { code: VENUE_UNSUPPORTED, reaction: 'alert', label: 'not supported' } },
  { ccxt: 'ExchangeError', placeOrder: 'unknown', other: { code: 'VENUE_ERROR', reaction: 'alert', label: 'error' } },
  { ccxt: 'BaseError', placeOrder: 'unknown', other: { code: 'VENUE_ERROR', reaction: 'alert', label: 'error' } },
];

/**
 * Maps anything a ccxt call threw to our error with the reaction it needs: refusals refuse, lost
 * answers of an order placement become OrderTimeoutError (look the order up, never re-send),
 * rate limits and outages retry, key problems and the unexpected alert. Our own errors pass.
 */
export function mapCcxtError(err: unknown, context: VenueErrorContext): BotError {
  if (err instanceof BotError) return err;
  const names = ccxtErrorNames(err);
  const raw = err instanceof Error ? err.message : String(err);
  const detail = redactVenueMessage(stripVenuePrefix(raw, context.venue), context.secrets);
  const rule = RULES.find((r) => names.includes(r.ccxt));
  const where = `${context.venue} ${context.what}`;
  if (!rule) {
    return new VenueError(context.venue, 'VENUE_INTERNAL', `${where} failed: ${detail}`, 'alert', { cause: err });
  }
  const outcome = context.action === 'placeOrder' ? rule.placeOrder : rule.other;
  if (outcome === 'rejected') return new OrderRejectedError(`${where} rejected: ${detail}`, { cause: err });
  if (outcome === 'insufficient') {
    return new OrderRejectedError(`${where} rejected, insufficient funds: ${detail}`, { cause: err, code: 'INSUFFICIENT_FUNDS' });
  }
  if (outcome === 'unknown') {
    return new OrderTimeoutError(`${where}: the answer was lost (${names[0] ?? 'error'}), the order must be looked up: ${detail}`, { cause: err });
  }
  const message = `${where}: ${outcome.label}: ${detail}`;
  // The venue answered the order with a refusal (rate limit, maintenance, keys): nothing was placed.
  if (context.action === 'placeOrder') return new OrderRejectedError(message, { cause: err, code: outcome.code, reaction: outcome.reaction });
  return new VenueError(context.venue, outcome.code, message, outcome.reaction, { cause: err });
}

/** ccxt messages start with the exchange id; ours already name the venue. */
function stripVenuePrefix(message: string, venue: string): string {
  return message.startsWith(`${venue} `) ? message.slice(venue.length + 1) : message;
}
