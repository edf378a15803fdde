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

/**
 * The venue said no before accepting the order, or it was never sent: nothing filled, ever. This
 * is the only failure an order may be taken as refused for; any other failure of an order leaves
 * its outcome unknown. `code` names the reason, e.g. INSUFFICIENT_FUNDS, VENUE_RATE_LIMITED.
 */
export class OrderRejectedError extends BotError {
  constructor(message: string, options?: { cause?: unknown; code?: string; reaction?: ErrorReaction }) {
    super(options?.code ?? 'ORDER_REJECTED', message, options?.reaction ?? 'refuse', { cause: options?.cause });
  }
}

/**
 * An order was (or may have been) sent and its outcome is still unknown after looking it up: the
 * operation is left unfinished, neither leg is assumed, and it is finished from the venue's answer
 * as soon as one comes (recovery at the next delta check).
 */
export class OrderOutcomeUnknownError extends BotError {
  constructor(message: string) {
    super('ORDER_OUTCOME_UNKNOWN', message, 'alert');
  }
}

/** This process no longer holds the lock its work runs under: it stops before its next order. */
export class LockLostError extends BotError {
  constructor(message: string) {
    super('LOCK_LOST', message, 'alert');
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
