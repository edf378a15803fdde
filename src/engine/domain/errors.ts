/**
 * Every failure the engine reports is a BotError with a stable `code` and a `reaction` that tells
 * the caller what to do: retry later, refuse and explain to the user, or alert the team and stop.
 */
export type ErrorReaction = 'retry' | 'refuse' | 'alert';

export class BotError extends Error {
  readonly code: string;
  readonly reaction: ErrorReaction;
  constructor(code: string, message: string, reaction: ErrorReaction, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.reaction = reaction;
  }
}

/** Bad user input: the answer says what is wrong and what to type instead. */
export class InvalidInputError extends BotError {
  constructor(message: string) {
    super('INVALID_INPUT', message, 'refuse');
  }
}

export class NotFoundError extends BotError {
  constructor(message: string) {
    super('NOT_FOUND', message, 'refuse');
  }
}

export class PriceUnavailableError extends BotError {
  constructor(
    readonly symbol: string,
    message: string,
  ) {
    super('PRICE_UNAVAILABLE', message, 'retry');
  }
}

export class InsufficientSizeError extends BotError {
  constructor(message: string) {
    super('INSUFFICIENT_SIZE', message, 'refuse');
  }
}

export type RiskReason =
  | 'TRADING_HALTED'
  | 'PRICE_STALE'
  | 'POSITION_EXISTS'
  | 'MAX_POSITION_NOTIONAL'
  | 'MAX_OPEN_POSITIONS'
  | 'MAX_TOTAL_EXPOSURE'
  | 'SPOT_BALANCE'
  | 'PERP_MARGIN';

export class RiskLimitError extends BotError {
  constructor(
    readonly reason: RiskReason,
    message: string,
  ) {
    super(`RISK_${reason}`, message, 'refuse');
  }
}

/** An order the venue refused outright (nothing filled). `code` names the reason, e.g. INSUFFICIENT_FUNDS. */
export class OrderRejectedError extends BotError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ORDER_REJECTED', message, 'refuse', { cause: options?.cause });
  }
}

/** The venue did not answer in time; the order's fate must be looked up, never re-sent. */
export class OrderTimeoutError extends BotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ORDER_TIMEOUT', message, 'alert', options);
  }
}

/** The code of a venue failure meaning "this venue does not offer that": nothing to retry. */
export const VENUE_UNSUPPORTED = 'VENUE_UNSUPPORTED';

/**
 * A venue failure that is not one order's refusal or lost answer: rate limit, outage, bad keys, a
 * refused account setting. Mapped at the exchange adapter; the message never carries secrets.
 */
export class VenueError extends BotError {
  constructor(
    readonly venue: string,
    code: string,
    message: string,
    reaction: ErrorReaction,
    options?: { cause?: unknown },
  ) {
    super(code, message, reaction, options);
  }
}

/** One leg filled and the other failed: the filled leg was reversed (or the reversal failed). */
export class DeltaHedgeError extends BotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DELTA_HEDGE_FAILED', message, 'alert', options);
  }
}

export class DeltaHedgeTimeout extends BotError {
  constructor(message: string) {
    super('DELTA_HEDGE_TIMEOUT', message, 'alert');
  }
}

export class DeltaDriftExceeded extends BotError {
  constructor(message: string) {
    super('DELTA_DRIFT_EXCEEDED', message, 'alert');
  }
}

/** A request for an operation that already ran, is running, or was cancelled. */
export class OperationStateError extends BotError {
  constructor(message: string) {
    super('OPERATION_STATE', message, 'refuse');
  }
}

export class QuoteMovedError extends BotError {
  constructor(message: string) {
    super('QUOTE_MOVED', message, 'refuse');
  }
}

export class ConfigError extends BotError {
  constructor(message: string) {
    super('CONFIG', message, 'alert');
  }
}

export class ModeChangeError extends BotError {
  constructor(message: string) {
    super('MODE_CHANGE_REFUSED', message, 'refuse');
  }
}

/** Anything unexpected, wrapped so callers see one error shape. */
export function asBotError(err: unknown): BotError {
  if (err instanceof BotError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BotError('INTERNAL', message, 'alert', { cause: err });
}
