import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { QUOTE_ASSET, perpAsset, type OrderRequest, type OrderResult } from '../../../src/engine/domain/types.js';
import type { Balances, Executor } from '../../../src/engine/execution/port.js';
import { balanceOf, flush, track } from '../../support/engine.js';

export interface ExecutorFixture {
  executor: Executor;
  clock: ManualClock;
  /** The price a market order placed now fills against (before slippage). */
  referencePrice(symbol: string): Promise<Decimal>;
}

export type ExecutorFactory = (options: { legLatencyMs: number }) => Promise<ExecutorFixture>;

const spotBuy = (id: string, qty = '0.5'): OrderRequest => ({
  clientOrderId: id,
  coin: 'ETH',
  kind: 'spot',
  symbol: 'ETH/USDT',
  side: 'buy',
  qty: new Decimal(qty),
  reduceOnly: false,
});

const perpSell = (id: string, qty = '0.5'): OrderRequest => ({
  clientOrderId: id,
  coin: 'ETH',
  kind: 'perp',
  symbol: 'ETH/USDT:USDT',
  side: 'sell',
  qty: new Decimal(qty),
  reduceOnly: false,
});

/** What a fill must do to the balances: quote by the signed notional less the fee, base by the qty. */
function expectMovedBy(before: Balances, after: Balances, fills: readonly OrderResult[]): void {
  for (const account of ['spot', 'perp'] as const) {
    const mine = fills.filter((f) => f.kind === account);
    const quoteMove = mine.reduce((sum, f) => {
      const notional = f.filledQty.mul(f.avgPrice);
      return sum.plus(f.side === 'buy' ? notional.neg() : notional).minus(f.feeUsd);
    }, new Decimal(0));
    const diff = balanceOf(after, account, QUOTE_ASSET).minus(balanceOf(before, account, QUOTE_ASSET));
    expect(diff.eq(quoteMove), `${account} USDT moved ${diff.toString()}, expected ${quoteMove.toString()}`).toBe(true);
    const bases = new Set(mine.map((f) => (account === 'spot' ? f.coin : perpAsset(f.coin))));
    for (const asset of bases) {
      const baseMove = mine
        .filter((f) => (account === 'spot' ? f.coin : perpAsset(f.coin)) === asset)
        .reduce((sum, f) => sum.plus(f.side === 'buy' ? f.filledQty : f.filledQty.neg()), new Decimal(0));
      const baseDiff = balanceOf(after, account, asset).minus(balanceOf(before, account, asset));
      expect(baseDiff.eq(baseMove), `${account} ${asset} moved ${baseDiff.toString()}`).toBe(true);
    }
  }
}

/**
 * The Executor contract: PaperExecutor and LiveExecutor must behave the same, so nothing above
 * them branches on the trading mode.
 */
export function executorContract(name: string, make: ExecutorFactory): void {
  describe(`Executor contract: ${name}`, () => {
    it('fills a market order at the reference price ± 5 bps with the taker fee', async () => {
      const fixture = await make({ legLatencyMs: 0 });
      const spotRef = await fixture.referencePrice('ETH/USDT');
      const perpRef = await fixture.referencePrice('ETH/USDT:USDT');
      const buy = await fixture.executor.execute(spotBuy('c1s'));
      const sell = await fixture.executor.execute(perpSell('c1p'));
      expect(buy.avgPrice.eq(spotRef.mul('1.0005'))).toBe(true);
      expect(sell.avgPrice.eq(perpRef.mul('0.9995'))).toBe(true);
      expect(buy.feeUsd.eq(buy.avgPrice.mul('0.5').mul('0.001'))).toBe(true);
      expect(sell.feeUsd.eq(sell.avgPrice.mul('0.5').mul('0.0005'))).toBe(true);
      expect(buy.status).toBe('filled');
      expect(buy.filledQty.eq('0.5')).toBe(true);
    });

    it('executes the same client order id once: a repeat returns the first fill', async () => {
      const { executor } = await make({ legLatencyMs: 0 });
      const before = await executor.balances();
      const first = await executor.execute(spotBuy('c2s'));
      const again = await executor.execute(spotBuy('c2s'));
      expect(again).toEqual(first);
      expectMovedBy(before, await executor.balances(), [first]);
    });

    it('executes the same client order id once when the repeat arrives before the first answer', async () => {
      const { executor, clock } = await make({ legLatencyMs: 250 });
      const before = await executor.balances();
      const a = track(executor.execute(spotBuy('c3s')));
      const b = track(executor.execute(spotBuy('c3s')));
      await flush();
      expect(a.settled() || b.settled()).toBe(false);
      await clock.advance(250);
      const [first, second] = await Promise.all([a.promise, b.promise]);
      expect(second).toEqual(first);
      expectMovedBy(before, await executor.balances(), [first]);
    });

    it('looks up an unknown client order id as null', async () => {
      const { executor } = await make({ legLatencyMs: 0 });
      expect(await executor.lookup('ETH/USDT', 'never-sent')).toBeNull();
    });

    it('looks up an executed order as its fill', async () => {
      const { executor } = await make({ legLatencyMs: 0 });
      const fill = await executor.execute(perpSell('c4p'));
      expect(await executor.lookup('ETH/USDT:USDT', 'c4p')).toEqual(fill);
    });

    it('moves the balances by each fill', async () => {
      const { executor } = await make({ legLatencyMs: 0 });
      const before = await executor.balances();
      const buy = await executor.execute(spotBuy('c5s', '1.2'));
      expectMovedBy(before, await executor.balances(), [buy]);
      const sell = await executor.execute(perpSell('c5p', '1.2'));
      const back = await executor.execute({ ...spotBuy('c5su', '0.7'), side: 'sell' });
      const after = await executor.balances();
      expectMovedBy(before, after, [buy, sell, back]);
      expect(balanceOf(after, 'spot', 'ETH').minus(balanceOf(before, 'spot', 'ETH')).eq('0.5')).toBe(true);
      expect(balanceOf(after, 'perp', 'ETH-PERP').minus(balanceOf(before, 'perp', 'ETH-PERP')).eq('-1.2')).toBe(true);
    });
  });
}
