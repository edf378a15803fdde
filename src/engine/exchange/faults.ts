import { InvalidInputError } from '../domain/errors.js';
import type { Coin, LegKind } from '../domain/types.js';

/**
 * Failure modes the simulated venue can be told to produce, one leg of one coin at a time:
 * - reject: the venue refuses the order, nothing fills;
 * - timeout: the venue never answers and never fills;
 * - partial: the order that builds the leg fills half and is reported partial;
 * - drift: the order that builds the leg (spot buy, perp sell) reports filled but delivers 3% less
 *   (as a spot venue that takes its fee in the bought coin does), so the legs drift apart; orders
 *   that unwind the leg fill in full.
 * - late: the order that builds the leg fills, but only LATE_FAULT_DELAY_MS after it was sent, long
 *   past the hedge timeout, so the bot gives it up as unknown first; orders that unwind fill at once.
 * - lost: the order that builds the leg fills, but its answer fails with a rate limit, and so does
 *   every lookup of it for LOST_READS_FAIL_MS (what a failed fee read after acceptance looks like).
 * - stale: the order that builds the leg is accepted and rests unfilled (lookups say it is working)
 *   for STALE_FILL_DELAY_MS, past the settle loop and the lookups, then fills.
 */
export type FaultKind = 'reject' | 'timeout' | 'partial' | 'drift' | 'late' | 'lost' | 'stale';
const KINDS: readonly FaultKind[] = ['reject', 'timeout', 'partial', 'drift', 'late', 'lost', 'stale'];

/** How long a `late` order takes to fill (and answer). */
export const LATE_FAULT_DELAY_MS = 60_000;
/** How long the lookups of a `lost` order keep failing after it filled. */
export const LOST_READS_FAIL_MS = 10_000;
/** How long a `stale` order rests unfilled before it fills. */
export const STALE_FILL_DELAY_MS = 20_000;

/** Only the order that builds a leg (spot buy, perp sell) falls short or comes late. */
export function buildsLeg(kind: LegKind, side: 'buy' | 'sell'): boolean {
  return side === (kind === 'spot' ? 'buy' : 'sell');
}

export interface Fault {
  kind: LegKind;
  coin: Coin;
  fault: FaultKind;
}

export class FaultPlan {
  constructor(private readonly faults: readonly Fault[] = []) {}

  /** Parses `SIM_FAULTS`, a comma list of `<spot|perp>:<COIN>:<fault>`, the faults listed above. */
  static parse(text: string | undefined): FaultPlan {
    if (!text || text.trim() === '') return new FaultPlan();
    const faults = text.split(',').map((part) => {
      const [kind, coin, fault] = part.trim().split(':');
      if ((kind !== 'spot' && kind !== 'perp') || !coin || !KINDS.includes(fault as FaultKind)) {
        throw new InvalidInputError(
          `SIM_FAULTS entry "${part.trim()}" is not <spot|perp>:<COIN>:<${KINDS.join('|')}>`,
        );
      }
      return { kind, coin: coin.toUpperCase(), fault: fault as FaultKind } satisfies Fault;
    });
    return new FaultPlan(faults);
  }

  faultFor(kind: LegKind, coin: Coin): FaultKind | null {
    return this.faults.find((f) => f.kind === kind && f.coin === coin)?.fault ?? null;
  }

  describe(): string {
    return this.faults.map((f) => `${f.kind}:${f.coin}:${f.fault}`).join(',');
  }
}
