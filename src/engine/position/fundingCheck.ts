import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import { Decimal, ZERO } from '../domain/decimal.js';
import { BotError, VENUE_UNSUPPORTED } from '../domain/errors.js';
import type { FundingComparison, FundingPayment, LedgerEntry, Position } from '../domain/types.js';
import type { EventBus } from '../events.js';
import type { Exchange } from '../exchange/port.js';
import type { LedgerView } from '../execution/ledgerView.js';
import type { Store } from '../store/port.js';

/** A venue payment belongs to the funding time it is nearest to, within this (venues stamp late). */
export const MATCH_WINDOW_MS = 15 * 60_000;
/** Funding times younger than this are left to the next check: the venue may not show them yet. */
export const SETTLE_GRACE_MS = 10 * 60_000;
/**
 * How far back a check compares: the last 30 days of a hedge. Venues keep funding history for a
 * limited time (binance income and OKX bills about three months), so a hedge held longer would
 * otherwise show its oldest funding as booked but never paid.
 */
export const CHECK_WINDOW_MS = 30 * 24 * 3_600_000;
const STATE_KEY = 'funding:check';

export interface FundingTolerance {
  absoluteUsd: Decimal;
  /** Fraction of the larger of the two sums. */
  relative: Decimal;
}

export type FundingCheckResult =
  | { outcome: 'match' | 'mismatch'; position: Position; comparison: FundingComparison }
  /** skipped: nothing newly booked since the last check; unsupported: the venue keeps no such history; failed: the read failed, the next check tries again. */
  | { outcome: 'skipped' | 'unsupported' | 'failed'; position: Position; reason: string };

/** What the last check of a hedge found, kept in the store for every process (/status shows it). */
export interface FundingCheckRecord {
  /** Start of the compared window: the opening, or CHECK_WINDOW_MS before `toMs` for an older hedge. */
  fromMs: number;
  toMs: number;
  ledgerUsd: Decimal;
  venueUsd: Decimal;
  /** The difference last alerted, while the mismatch lasts. */
  alertedDifferenceUsd: Decimal | null;
}

/**
 * Compares the ledger's funding lines of one hedge with the venue's payments, over the funding
 * times from `sinceMs` (default: all) up to `horizonMs` (the latest booking old enough to
 * compare). Each payment counts at the booked funding time nearest to it within
 * MATCH_WINDOW_MS, or at its own time when none is.
 */
export function compareFunding(args: {
  position: Position;
  lines: readonly LedgerEntry[];
  payments: readonly FundingPayment[];
  horizonMs: number;
  sinceMs?: number;
  tolerance: FundingTolerance;
}): FundingComparison {
  const sinceMs = args.sinceMs ?? -Infinity;
  const lines = args.lines.filter((l) => l.atMs >= sinceMs && l.atMs <= args.horizonMs);
  const bookedTimes = [...new Set(lines.map((l) => l.atMs))].sort((a, b) => a - b);
  const paidTimes = new Set<number>();
  const unbookedTimesMs: number[] = [];
  let venueUsd = ZERO;
  let payments = 0;
  for (const payment of args.payments) {
    // A payment stamped just before the window may still be for its first funding time.
    if (payment.atMs < sinceMs - MATCH_WINDOW_MS) continue;
    const booked = nearest(bookedTimes, payment.atMs);
    const atMs = booked ?? payment.atMs;
    if (atMs > args.horizonMs) continue;
    payments += 1;
    venueUsd = venueUsd.plus(payment.amountUsd);
    if (booked === null) unbookedTimesMs.push(payment.atMs);
    else paidTimes.add(booked);
  }
  const ledgerUsd = lines.reduce((sum, l) => sum.plus(l.amount), ZERO);
  const differenceUsd = venueUsd.minus(ledgerUsd);
  const { absoluteUsd, relative } = args.tolerance;
  const toleranceUsd = absoluteUsd.plus(relative.mul(Decimal.max(ledgerUsd.abs(), venueUsd.abs())));
  const times = [...bookedTimes, ...unbookedTimesMs];
  return {
    position: args.position,
    fromMs: times.length > 0 ? Math.min(...times) : args.horizonMs,
    toMs: args.horizonMs,
    bookings: lines.length,
    payments,
    ledgerUsd,
    venueUsd,
    differenceUsd,
    toleranceUsd,
    withinTolerance: differenceUsd.abs().lte(toleranceUsd),
    unpaidTimesMs: bookedTimes.filter((t) => !paidTimes.has(t)),
    unbookedTimesMs,
  };
}

function nearest(sortedTimes: readonly number[], atMs: number): number | null {
  let best: number | null = null;
  for (const t of sortedTimes) {
    if (Math.abs(t - atMs) <= MATCH_WINDOW_MS && (best === null || Math.abs(t - atMs) < Math.abs(best - atMs))) best = t;
  }
  return best;
}

/**
 * Checks the funding the ledger booked for each open live hedge against what the venue actually
 * paid, once per newly booked funding time. A mismatch beyond the tolerance is alerted once, and
 * again only when the difference moves by more than the tolerance; the ledger is left as booked.
 * Paper hedges have no venue payments and are not checked.
 */
export class FundingCheck {
  private readonly warned = new Set<string>();

  constructor(
    private readonly deps: {
      store: Store;
      ledger: LedgerView;
      events: EventBus;
      clock: Clock;
      logger: Logger;
      /** The live venue; null when live trading is not configured. */
      exchange: Exchange | null;
      tolerance: FundingTolerance;
    },
  ) {}

  async check(): Promise<FundingCheckResult[]> {
    const live = (await this.deps.store.listOpenPositions()).filter((p) => p.mode === 'live');
    if (live.length === 0) return [];
    const previous = await this.records();
    const next: Record<string, FundingCheckRecord> = {};
    const results: FundingCheckResult[] = [];
    let compared = false;
    for (const position of live) {
      const { result, record } = await this.checkOne(position, previous[position.id]);
      results.push(result);
      if (record) next[position.id] = record;
      compared ||= result.outcome === 'match' || result.outcome === 'mismatch';
    }
    // Closed hedges drop out of the record.
    if (compared || Object.keys(previous).length !== Object.keys(next).length) await this.deps.store.putValue(STATE_KEY, next);
    return results;
  }

  /** The last check's figures by position id. */
  async records(): Promise<Record<string, FundingCheckRecord>> {
    return (await this.deps.store.getValue<Record<string, FundingCheckRecord>>(STATE_KEY)) ?? {};
  }

  private async checkOne(position: Position, prior: FundingCheckRecord | undefined): Promise<{ result: FundingCheckResult; record: FundingCheckRecord | undefined }> {
    const unchanged = (outcome: 'skipped' | 'unsupported' | 'failed', reason: string) => ({ result: { outcome, position, reason }, record: prior });
    const exchange = this.deps.exchange;
    if (!exchange) {
      this.warnOnce('no-live-venue', {}, 'live hedges but no live venue configured; funding payments are not compared');
      return unchanged('unsupported', 'live trading is not configured');
    }
    const lines = await this.deps.ledger.fundingLinesOf(position.id);
    const settledBy = this.deps.clock.nowMs() - SETTLE_GRACE_MS;
    const horizonMs = lines.reduce((latest, l) => (l.atMs <= settledBy && l.atMs > latest ? l.atMs : latest), -Infinity);
    if (horizonMs === -Infinity) return unchanged('skipped', 'no funding booked long enough ago');
    if (prior && prior.toMs >= horizonMs) return unchanged('skipped', 'no funding booked since the last check');
    const sinceMs = Math.max(position.openedAtMs, horizonMs - CHECK_WINDOW_MS);
    let payments: FundingPayment[];
    try {
      payments = await exchange.fetchFundingPayments(position.perpLeg.symbol, Math.max(position.openedAtMs, sinceMs - MATCH_WINDOW_MS));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (err instanceof BotError && err.code === VENUE_UNSUPPORTED) {
        this.warnOnce(`unsupported:${exchange.name}`, { venue: exchange.name, reason }, 'the venue reports no funding payments; they cannot be compared with the ledger');
        return unchanged('unsupported', reason);
      }
      const code = err instanceof BotError ? err.code : 'INTERNAL';
      this.warnOnce(`failed:${position.id}:${code}`, { positionId: position.id, coin: position.coin, code, err: reason }, 'funding payments could not be read; every check tries again');
      return unchanged('failed', reason);
    }
    const comparison = compareFunding({ position, lines, payments, horizonMs, sinceMs, tolerance: this.deps.tolerance });
    const record: FundingCheckRecord = {
      fromMs: sinceMs,
      toMs: horizonMs,
      ledgerUsd: comparison.ledgerUsd,
      venueUsd: comparison.venueUsd,
      alertedDifferenceUsd: null,
    };
    if (comparison.withinTolerance) return { result: { outcome: 'match', position, comparison }, record };
    const alerted = prior?.alertedDifferenceUsd ?? null;
    if (alerted === null || comparison.differenceUsd.minus(alerted).abs().gt(comparison.toleranceUsd)) {
      this.deps.events.emit({ type: 'funding_mismatch', critical: true, comparison });
      record.alertedDifferenceUsd = comparison.differenceUsd;
    } else {
      record.alertedDifferenceUsd = alerted;
    }
    return { result: { outcome: 'mismatch', position, comparison }, record };
  }

  private warnOnce(key: string, details: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.logger.warn(details, message);
  }
}
