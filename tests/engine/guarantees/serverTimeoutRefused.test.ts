import * as ccxt from 'ccxt';
import { describe, expect, it } from 'vitest';
import { Decimal, ManualClock, type Requester } from '../../../src/engine/index.js';
import { mapCcxtError } from '../../../src/engine/exchange/ccxtErrors.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { startLiveEngine } from '../../support/engineHarness.js';

const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
const ZERO = new Decimal(0);

describe('a broad venue error on an order that may have filled is an unknown outcome, never a refusal', () => {
  it('bybit retCode 5004 "Server Timeout" (ccxt ExchangeError) on an order is looked up, not refused', () => {
    const err = mapCcxtError(new ccxt.ExchangeError('bybit {"retCode":5004,"retMsg":"Server Timeout"}'), { venue: 'bybit', action: 'placeOrder', what: 'sell 1 ETH/USDT:USDT' });
    expect(err.constructor.name).not.toBe('OrderRejectedError');
  });

  it('the perp order filled but answered "Server Timeout": nothing is rolled back on the guess that it did not fill', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
    const live: Exchange = Object.create(venue) as Exchange;
    live.placeOrder = async (request) => {
      const fill = await venue.placeOrder(request);
      if (request.kind === 'perp' && request.side === 'sell') {
        throw mapCcxtError(new ccxt.ExchangeError('bybit {"retCode":5004,"retMsg":"Server Timeout"}'), { venue: 'bybit', action: 'placeOrder', what: 'sell' });
      }
      return fill;
    };
    const { engine, events } = await startLiveEngine({ clock, store, venue, live: live });
    const preview = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
    const { position } = await engine.confirm(preview.operation.id, ALICE);
    // The lookup found the perp filled: the hedge opened, both legs as the venue holds them.
    const b = await venue.fetchBalances();
    const held = { spot: (b.spot.get('ETH') ?? ZERO).toString(), perp: (b.perp.get('ETH-PERP') ?? ZERO).neg().toString() };
    expect((await store.getOperation(preview.operation.id))?.state).toBe('open');
    expect(held).toEqual({ spot: position?.spotLeg.qty.toString(), perp: position?.perpLeg.qty.toString() });
    expect(events.map((e) => e.type)).toEqual(['opened']);
  });
});
