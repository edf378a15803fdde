import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/engine/domain/clock.js';
import { Decimal } from '../../../src/engine/domain/decimal.js';
import { OrderRejectedError, OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest, OrderResult } from '../../../src/engine/domain/types.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { LiveExecutor } from '../../../src/engine/execution/liveExecutor.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { executorContract } from './executor.contract.js';

executorContract('LiveExecutor over SimulatedExchange', async ({ legLatencyMs }) => {
  const clock = new ManualClock();
  const exchange = new SimulatedExchange({ clock, seed: 21, legLatencyMs });
  const executor = new LiveExecutor(exchange, new MemoryStore());
  return {
    executor,
    clock,
    referencePrice: async (symbol) => (await exchange.fetchTickers([symbol]))[0]!.last,
  };
});

/** A venue whose answer to a placed order gets lost on the way back. */
class LossyExchange extends SimulatedExchange {
  placed = 0;
  lose: 'after-fill' | 'before-fill' | null = null;

  override async placeOrder(request: OrderRequest): Promise<OrderResult> {
    this.placed += 1;
    if (this.lose === 'before-fill') throw new OrderTimeoutError('no answer');
    const fill = await super.placeOrder(request);
    if (this.lose === 'after-fill') throw new OrderTimeoutError('answer lost');
    return fill;
  }
}

const buy: OrderRequest = {
  clientOrderId: 'x1s',
  coin: 'BTC',
  kind: 'spot',
  symbol: 'BTC/USDT',
  side: 'buy',
  qty: new Decimal('0.01'),
  reduceOnly: false,
};

describe('LiveExecutor', () => {
  it('looks up an order whose answer was lost and records the fill it finds, once', async () => {
    const exchange = new LossyExchange({ clock: new ManualClock() });
    exchange.lose = 'after-fill';
    const store = new MemoryStore();
    const executor = new LiveExecutor(exchange, store);
    const fill = await executor.execute(buy);
    expect(fill.filledQty.eq('0.01')).toBe(true);
    expect(await store.getFill('x1s')).toEqual(fill);
    expect(await executor.execute(buy)).toEqual(fill);
    expect(exchange.placed).toBe(1);
    expect((await store.listLedger()).filter((l) => l.ref === 'x1s')).toHaveLength(3);
  });

  it('reports a timeout when the venue has no trace of the order', async () => {
    const exchange = new LossyExchange({ clock: new ManualClock() });
    exchange.lose = 'before-fill';
    const store = new MemoryStore();
    await expect(new LiveExecutor(exchange, store).execute(buy)).rejects.toThrow(OrderTimeoutError);
    expect(await store.getFill('x1s')).toBeNull();
  });

  it('passes a refusal on as final and records nothing', async () => {
    const exchange = new SimulatedExchange({ clock: new ManualClock(), faults: FaultPlan.parse('spot:BTC:reject') });
    const store = new MemoryStore();
    await expect(new LiveExecutor(exchange, store).execute(buy)).rejects.toThrow(OrderRejectedError);
    expect(await store.getFill('x1s')).toBeNull();
    expect(await store.listLedger()).toHaveLength(0);
  });

  it('records, on lookup, a fill the venue has and the store lacks (after a crash)', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock });
    const venueFill = await exchange.placeOrder(buy);
    const store = new MemoryStore();
    const executor = new LiveExecutor(exchange, store);
    expect(await executor.lookup('BTC/USDT', 'x1s')).toEqual(venueFill);
    expect(await store.getFill('x1s')).toEqual(venueFill);
    expect(await executor.lookup('BTC/USDT', 'x1s')).toEqual(venueFill);
    expect(await store.listLedger()).toHaveLength(3);
  });

  it('reads balances from the venue', async () => {
    const exchange = new SimulatedExchange({ clock: new ManualClock(), startBalancesUsdt: new Decimal(777) });
    const balances = await new LiveExecutor(exchange, new MemoryStore()).balances();
    expect(balances.spot.get('USDT')!.eq(777)).toBe(true);
    expect(balances.perp.get('USDT')!.eq(777)).toBe(true);
  });
});
