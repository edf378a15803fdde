import { LedgerView } from '../../../src/engine/execution/ledgerView.js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal, ZERO } from '../../../src/engine/domain/decimal.js';
import { OrderRejectedError, PriceUnavailableError } from '../../../src/engine/domain/errors.js';
import type { LedgerEntry, OrderRequest, Side } from '../../../src/engine/domain/types.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { PAPER_SLIPPAGE_BPS, PaperExecutor, sumLedger } from '../../../src/engine/execution/paperExecutor.js';
import { InstrumentInfo } from '../../../src/engine/market/instrumentInfo.js';
import { TickerService } from '../../../src/engine/market/tickerService.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { balanceOf, deposits, flush, track } from '../../support/engine.js';
import { executorContract } from './executor.contract.js';

const DEPOSIT = new Decimal(50_000);

async function paper(options: { legLatencyMs?: number; faults?: string } = {}) {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed: 21 });
  const store = new MemoryStore();
  const tickers = new TickerService(exchange, clock);
  const instruments = await InstrumentInfo.load(exchange);
  await tickers.refresh(instruments.allSymbols());
  await store.appendLedger(deposits(DEPOSIT));
  const executor = new PaperExecutor({
    store,
    tickers,
    instruments,
    clock,
    ledger: new LedgerView(store),
    faults: FaultPlan.parse(options.faults),
    legLatencyMs: options.legLatencyMs ?? 0,
  });
  return { clock, exchange, store, tickers, instruments, executor };
}

const order = (id: string, coin: string, kind: 'spot' | 'perp', side: Side, qty: string): OrderRequest => ({
  clientOrderId: id,
  coin,
  kind,
  symbol: kind === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`,
  side,
  qty: new Decimal(qty),
  reduceOnly: kind === 'perp' && side === 'buy',
});

const linesOf = (ledger: readonly LedgerEntry[], ref: string) => ledger.filter((e) => e.ref === ref);

executorContract('PaperExecutor', async ({ legLatencyMs }) => {
  const { executor, clock, tickers } = await paper({ legLatencyMs });
  return { executor, clock, referencePrice: async (symbol) => tickers.get(symbol).last };
});

describe('PaperExecutor', () => {
  it('uses 5 bps of slippage', () => {
    expect(PAPER_SLIPPAGE_BPS.eq(5)).toBe(true);
  });

  it('buys at the cached last × 1.0005 and sells at last × 0.9995, fee = qty × price × taker rate', async () => {
    const { executor, tickers, instruments } = await paper();
    const last = tickers.get('BTC/USDT').last;
    const perpLast = tickers.get('BTC/USDT:USDT').last;
    const buy = await executor.execute(order('p1s', 'BTC', 'spot', 'buy', '0.01234'));
    const sell = await executor.execute(order('p1p', 'BTC', 'perp', 'sell', '0.012'));
    expect(buy.avgPrice.eq(last.mul('1.0005'))).toBe(true);
    expect(sell.avgPrice.eq(perpLast.mul('0.9995'))).toBe(true);
    const pair = instruments.pair('BTC');
    expect(buy.feeUsd.eq(new Decimal('0.01234').mul(last.mul('1.0005')).mul(pair.spot.takerFeeRate))).toBe(true);
    expect(sell.feeUsd.eq(new Decimal('0.012').mul(perpLast.mul('0.9995')).mul(pair.perp.takerFeeRate))).toBe(true);
    expect(pair.spot.takerFeeRate.eq('0.001') && pair.perp.takerFeeRate.eq('0.0005')).toBe(true);
    expect(buy.simulated && sell.simulated).toBe(true);
  });

  it('keeps virtual balances that are exactly the sum of the ledger', async () => {
    const { executor, store, tickers } = await paper();
    const trades: [string, string, 'spot' | 'perp', Side, string][] = [
      ['b1', 'BTC', 'spot', 'buy', '0.01234'],
      ['b2', 'ETH', 'spot', 'buy', '1.2345'],
      ['b3', 'BTC', 'spot', 'sell', '0.005'],
      ['b4', 'SOL', 'spot', 'buy', '10.5'],
      ['b5', 'ETH', 'perp', 'sell', '1.234'],
      ['b6', 'ETH', 'spot', 'sell', '0.2345'],
      ['b7', 'ETH', 'perp', 'buy', '0.5'],
    ];
    let spotUsdt = DEPOSIT;
    let perpUsdt = DEPOSIT;
    for (const [id, coin, kind, side, qty] of trades) {
      await executor.execute(order(id, coin, kind, side, qty));
      // Expected cash, from the ticker and the catalog's fee rates only, not from the fill.
      const last = tickers.get(kind === 'spot' ? `${coin}/USDT` : `${coin}/USDT:USDT`).last;
      const price = side === 'buy' ? last.mul('1.0005') : last.mul('0.9995');
      const notional = new Decimal(qty).mul(price);
      const fee = notional.mul(kind === 'spot' ? '0.001' : '0.0005');
      const move = (side === 'buy' ? notional.neg() : notional).minus(fee);
      if (kind === 'spot') spotUsdt = spotUsdt.plus(move);
      else perpUsdt = perpUsdt.plus(move);
    }
    const balances = await executor.balances();
    expect(balances).toEqual(sumLedger(await store.listLedger(), 'paper'));
    expect(balanceOf(balances, 'spot', 'USDT').eq(spotUsdt)).toBe(true);
    expect(balanceOf(balances, 'perp', 'USDT').eq(perpUsdt)).toBe(true);
    expect(balanceOf(balances, 'spot', 'BTC').eq('0.00734')).toBe(true);
    expect(balanceOf(balances, 'spot', 'ETH').eq('1')).toBe(true);
    expect(balanceOf(balances, 'spot', 'SOL').eq('10.5')).toBe(true);
    expect(balanceOf(balances, 'perp', 'ETH-PERP').eq('-0.734')).toBe(true);
  });

  it('books each fill as quote, base and fee lines', async () => {
    const { executor, store } = await paper();
    const fill = await executor.execute(order('l1s', 'SOL', 'spot', 'buy', '2'));
    const lines = linesOf(await store.listLedger(), 'l1s');
    expect(lines.map((l) => [l.kind, l.account, l.asset])).toEqual([
      ['trade', 'spot', 'USDT'],
      ['trade', 'spot', 'SOL'],
      ['fee', 'spot', 'USDT'],
    ]);
    expect(lines[0]!.amount.eq(fill.avgPrice.mul(2).neg())).toBe(true);
    expect(lines[1]!.amount.eq(2)).toBe(true);
    expect(lines[2]!.amount.eq(fill.feeUsd.neg())).toBe(true);
    expect(lines.every((l) => l.mode === 'paper')).toBe(true);
  });

  it('records the same client order id once: one fill, one set of ledger lines', async () => {
    const { executor, store } = await paper();
    const first = await executor.execute(order('d1s', 'BTC', 'spot', 'buy', '0.01'));
    const again = await executor.execute(order('d1s', 'BTC', 'spot', 'buy', '0.01'));
    expect(again).toEqual(first);
    expect(linesOf(await store.listLedger(), 'd1s')).toHaveLength(3);
    expect(balanceOf(await executor.balances(), 'spot', 'BTC').eq('0.01')).toBe(true);
  });

  it('records one fill when a repeat arrives while the first is waiting on latency', async () => {
    const { executor, store, clock } = await paper({ legLatencyMs: 100 });
    const a = track(executor.execute(order('d2s', 'BTC', 'spot', 'buy', '0.01')));
    const b = track(executor.execute(order('d2s', 'BTC', 'spot', 'buy', '0.01')));
    await flush();
    await clock.advance(99);
    expect(a.settled() || b.settled()).toBe(false);
    await clock.advance(1);
    const [first, second] = await Promise.all([a.promise, b.promise]);
    expect(second).toEqual(first);
    expect(linesOf(await store.listLedger(), 'd2s')).toHaveLength(3);
  });

  it('answers a repeat of a filled order with its fill, even when a stale price or a fault would refuse a new one', async () => {
    const { executor, store, clock } = await paper({ faults: 'spot:BTC:reject' });
    const first = await executor.execute(order('r1s', 'ETH', 'spot', 'buy', '1'));
    // As if filled before a restart that brought SIM_FAULTS in: stored under a faulted coin.
    const beforeFault = { ...first, clientOrderId: 'r2s', coin: 'BTC', symbol: 'BTC/USDT' };
    expect(await store.recordFill(beforeFault, [])).toBeNull();
    expect(await executor.execute(order('r2s', 'BTC', 'spot', 'buy', '1'))).toEqual(beforeFault);
    await expect(executor.execute(order('r3s', 'BTC', 'spot', 'buy', '1'))).rejects.toThrow(OrderRejectedError);

    await clock.advance(60_001);
    expect(await executor.execute(order('r1s', 'ETH', 'spot', 'buy', '1'))).toEqual(first);
    // Refused, not unknown: with no price nothing filled. The code says why.
    await expect(executor.execute(order('r4s', 'ETH', 'spot', 'buy', '1'))).rejects.toThrow(OrderRejectedError);
    await expect(executor.execute(order('r4s', 'ETH', 'spot', 'buy', '1'))).rejects.toMatchObject({ code: 'PRICE_UNAVAILABLE', reaction: 'retry' });
    expect(linesOf(await store.listLedger(), 'r1s')).toHaveLength(3);
  });

  it('refuses to fill on a stale price and records nothing', async () => {
    const { executor, store, clock } = await paper();
    await clock.advance(60_001);
    await expect(executor.execute(order('s1s', 'BTC', 'spot', 'buy', '0.01'))).rejects.toThrow(OrderRejectedError);
    await expect(executor.execute(order('s1s', 'BTC', 'spot', 'buy', '0.01'))).rejects.toMatchObject({ cause: expect.any(PriceUnavailableError) });
    expect(await store.getFill('s1s')).toBeNull();
    expect(linesOf(await store.listLedger(), 's1s')).toHaveLength(0);
  });

  it('applies SIM_FAULTS: a rejected order records nothing, a timed-out one never answers', async () => {
    const { executor, store, clock } = await paper({ faults: 'perp:BTC:reject,spot:ETH:timeout' });
    await expect(executor.execute(order('f1p', 'BTC', 'perp', 'sell', '0.01'))).rejects.toThrow(OrderRejectedError);
    expect(await executor.lookup('BTC/USDT:USDT', 'f1p')).toBeNull();
    const hung = track(executor.execute(order('f2s', 'ETH', 'spot', 'buy', '1')));
    await clock.advance(30_000);
    expect(hung.settled()).toBe(false);
    expect(await executor.lookup('ETH/USDT', 'f2s')).toBeNull();
    expect((await store.listLedger()).filter((l) => l.ref !== 'test')).toHaveLength(0);
  });
});

describe('sumLedger', () => {
  it('sums the lines of one mode by account and asset', () => {
    const line = (id: string, mode: 'paper' | 'live', account: 'spot' | 'perp', asset: string, amount: string): LedgerEntry => ({
      id,
      atMs: 0,
      kind: 'trade',
      account,
      asset,
      amount: new Decimal(amount),
      ref: id,
      mode,
    });
    const balances = sumLedger(
      [
        line('a', 'paper', 'spot', 'USDT', '100.1'),
        line('b', 'paper', 'spot', 'USDT', '-0.05'),
        line('c', 'live', 'spot', 'USDT', '999'),
        line('d', 'paper', 'perp', 'BTC-PERP', '-0.002'),
        line('e', 'paper', 'perp', 'BTC-PERP', '0.002'),
      ],
      'paper',
    );
    expect(balances.spot.get('USDT')!.eq('100.05')).toBe(true);
    expect(balances.perp.get('BTC-PERP')!.eq(ZERO)).toBe(true);
    expect(balances.spot.size).toBe(1);
  });
});
