import { describe, expect, it } from 'vitest';
import { formatEvent, formatResumed, formatStatus } from '../../src/bot/format.js';
import { Decimal } from '../../src/engine/domain/decimal.js';
import type { OrderResult, Position } from '../../src/engine/domain/types.js';
import { operation } from '../support/engine.js';

const d = (v: string): Decimal => new Decimal(v);

function fill(clientOrderId: string, side: 'buy' | 'sell', qty: string): OrderResult {
  return {
    clientOrderId,
    orderId: `v-${clientOrderId}`,
    coin: 'BTC',
    kind: 'perp',
    symbol: 'BTC/USDT:USDT',
    side,
    status: 'filled',
    requestedQty: d(qty),
    filledQty: d(qty),
    avgPrice: d('95012.5'),
    feeUsd: d('0.950125'),
    simulated: false,
    timestampMs: 0,
  };
}

describe('formatEvent', () => {
  it('names a late fill, the order and its undo, or says to act by hand when the undo failed', () => {
    const done = formatEvent({ type: 'late_fill', critical: true, operationId: 'op7', fill: fill('op7p', 'sell', '0.02'), reversal: fill('op7pl', 'buy', '0.02') });
    expect(done).toMatch(/^🚨 LATE FILL BTC \(operation op7\): an order given up as unknown filled after all/);
    expect(done).toContain('perp SELL 0.02 BTC @ 95,012.5');
    expect(done).toContain('undone: perp BUY 0.02 BTC');
    const failed = formatEvent({ type: 'late_fill', critical: true, operationId: 'op7', fill: fill('op7p', 'sell', '0.02'), reversal: null, reversalError: 'rejected' });
    expect(failed).toContain('UNDO FAILED: rejected; act by hand');
  });

  it('says how much spot dust a close left behind, and nothing about dust when there is none', () => {
    const op = operation({ id: 'op9', coin: 'SOL', kind: 'close', nowMs: 0 });
    const leg = { symbol: 'SOL/USDT', side: 'buy' as const, qty: d('1.4985'), entryPrice: d('180'), entryFeeUsd: d('0.27') };
    const position: Position = {
      id: 'pos1',
      coin: 'SOL',
      mode: 'live',
      spotLeg: { ...leg, kind: 'spot' },
      perpLeg: { ...leg, kind: 'perp', symbol: 'SOL/USDT:USDT', side: 'sell', qty: d('1.5') },
      openedAtMs: 0,
      openedBy: 'Ann',
      openOperationId: 'op8',
      status: 'closed',
      lastFundingMs: 0,
      exitSpotPrice: d('181'),
      exitPerpPrice: d('181.1'),
      exitFeesUsd: d('0.4'),
      realisedPnlUsd: d('-1.25'),
    };
    expect(formatEvent({ type: 'closed', critical: false, operation: op, position })).not.toMatch(/dust/);
    const withDust = formatEvent({ type: 'closed', critical: false, operation: op, position: { ...position, spotDustQty: d('0.0005') } });
    expect(withDust).toMatch(/0\.0005 SOL stays in spot as dust \(less than one lot step, which the venue cannot sell\)$/);
  });

  it('says whether a liquidation price is the venue’s figure or our estimate', () => {
    const position = {
      id: 'pos2',
      coin: 'BTC',
      mode: 'live' as const,
      spotLeg: { kind: 'spot' as const, symbol: 'BTC/USDT', side: 'buy' as const, qty: d('0.01'), entryPrice: d('95000'), entryFeeUsd: d('0.95') },
      perpLeg: { kind: 'perp' as const, symbol: 'BTC/USDT:USDT', side: 'sell' as const, qty: d('0.01'), entryPrice: d('95000'), entryFeeUsd: d('0.475') },
      openedAtMs: 0,
      openedBy: 'Ann',
      openOperationId: 'op1',
      status: 'open' as const,
      lastFundingMs: 0,
    };
    const near = (source: 'venue' | 'estimate') => formatEvent({ type: 'liquidation', critical: true, position, liquidationPrice: d('104500'), source, distancePct: d('9.9') });
    expect(near('venue')).toContain("perp short liquidates at 104,500.00 (the venue's figure), 9.9% above the mark");
    expect(near('estimate')).toContain('perp short liquidates at about 104,500.00 (estimate)');
  });

  it('shows a unified account’s one USDT wallet once, not as two balances', () => {
    const report = {
      mode: 'live' as const,
      liveConfigured: true,
      spotUsdt: d('18099.42'),
      perpUsdt: d('19999.42'),
      perpEquityUsd: d('19049.22'),
      totalExposureUsd: d('950.2'),
      positions: [],
      unfinishedOperations: 0,
      unaccounted: [],
      halted: [],
    };
    const unified = formatStatus({ ...report, sharedQuote: true });
    expect(unified).toContain('One USDT wallet for both legs (unified account): 18,099.42 USDT spendable · equity 19,049.22 USDT · exposure 950.20 USD');
    expect(unified).not.toContain('Spot ');
    expect(formatStatus({ ...report, sharedQuote: false })).toContain('Spot 18,099.42 USDT · perp equity 19,049.22 USDT · exposure 950.20 USD');
  });
});

describe('what differs from the records, in words', () => {
  const extraShort = { mode: 'live' as const, coin: 'ETH', leg: 'perp' as const, heldQty: d('0.7'), recordedQty: d('0.6'), differenceQty: d('0.1') };
  const missingSpot = { mode: 'live' as const, coin: 'ETH', leg: 'spot' as const, heldQty: d('0'), recordedQty: d('0.6'), differenceQty: d('-0.6') };

  it('a reconciliation alert names each leg, what is held, what is recorded and what to do', () => {
    const text = formatEvent({ type: 'reconcile', critical: true, differences: [extraShort, missingSpot] });
    expect(text).toMatch(/^🚨 RECONCILIATION: the venue does not hold what the records say; opens of ETH wait/);
    expect(text).toContain('ETH perp (LIVE): holds 0.7 ETH perp short, the records 0.6 → 0.1 more than recorded');
    expect(text).toContain('ETH spot (LIVE): holds 0 ETH in the spot wallet, the records 0.6 → 0.6 less than recorded');
    expect(text).toContain('/resume');
  });

  it('says when a coin matches again', () => {
    expect(formatEvent({ type: 'reconciled', critical: false, coins: ['ETH'] })).toBe('✅ RECONCILED ETH: the venue matches the records again; opens of it are allowed');
  });

  it('an unfinished operation names the order of unknown outcome and what is known, and claims nothing else', () => {
    const op = operation({ id: 'opx1', coin: 'BTC', nowMs: 0 });
    const request = { clientOrderId: 'opx1p', coin: 'BTC', kind: 'perp' as const, symbol: 'BTC/USDT:USDT', side: 'sell' as const, qty: d('0.02'), reduceOnly: false };
    const spot = { ...fill('opx1s', 'buy', '0.02'), kind: 'spot' as const, symbol: 'BTC/USDT' };
    const text = formatEvent({ type: 'unresolved', critical: true, operation: op, orders: [{ request, reason: 'rate limit hit' }], filled: [spot] });
    expect(text).toMatch(/^🚨 UNFINISHED open BTC \(asked by Ann, op opx1\): the venue has not told what became of an order, so nothing is assumed/);
    expect(text).toContain('perp SELL 0.02 BTC (opx1p): outcome unknown — rate limit hit');
    expect(text).toContain('known: spot BUY 0.02 BTC');
    expect(text).not.toMatch(/flat|rolled back|reversed/i);
  });

  it('/status lists holdings no hedge accounts for and the coins whose opens wait', () => {
    const report = {
      mode: 'live' as const,
      liveConfigured: true,
      spotUsdt: d('1000'),
      perpUsdt: d('1000'),
      perpEquityUsd: d('1000'),
      totalExposureUsd: d('0'),
      sharedQuote: false,
      positions: [],
      unfinishedOperations: 0,
      unaccounted: [extraShort],
      halted: [extraShort],
    };
    const text = formatStatus(report);
    expect(text).toContain('⛔ New opens of ETH wait until the venue matches the records');
    expect(text).toContain('⚠️ Held at the venue, not accounted for by any hedge:\n  ETH perp (LIVE): holds 0.7 ETH perp short, the records 0.6 → 0.1 more than recorded');
  });

  it('/resume says what was accepted, by whom, or that nothing was halted', () => {
    expect(formatResumed([extraShort], 'alice')).toBe('Accepted by alice as held outside the hedges; opens of ETH are allowed again:\n  ETH perp (LIVE): holds 0.7 ETH perp short, the records 0.6 → 0.1 more than recorded');
    expect(formatResumed([], 'alice')).toMatch(/^Nothing is halted/);
  });
});
