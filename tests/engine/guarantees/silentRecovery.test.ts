import { describe, expect, it } from 'vitest';
import { Decimal, ManualClock } from '../../../src/engine/index.js';
import { OrderTimeoutError, VenueError } from '../../../src/engine/domain/errors.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { startLiveEngine } from '../../support/engineHarness.js';
import { ALICE, pass } from './support.js';

describe('every recovery that finishes an operation is told', () => {
  it('the delta check recovery fails on a read; the same check finishes it under settleCoin; the team never hears the hedge opened', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
    const live: Exchange = Object.create(venue) as Exchange;
    let openId = '';
    let readsFail = false;
    live.placeOrder = async (r) => {
      const fill = await venue.placeOrder(r);
      if (r.clientOrderId === `${openId}s`) {
        readsFail = true;
        throw new OrderTimeoutError('ECONNRESET after sending');
      }
      return fill;
    };
    live.fetchOrderByClientId = async (s, id) => {
      if (readsFail && id === `${openId}s`) throw new VenueError('sim', 'VENUE_RATE_LIMITED', 'rate limit hit', 'retry');
      return venue.fetchOrderByClientId(s, id);
    };
    live.fetchBalances = async () => {
      readsFail = false; // the rate limit is over by the time the survey reads balances
      return venue.fetchBalances();
    };
    const { engine, events } = await startLiveEngine({ clock, store, venue, live: live });
    const open = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
    openId = open.operation.id;
    const confirming = engine.confirm(openId, ALICE).catch((e: unknown) => e as Error);
    await pass(clock, 10_000);
    expect(await confirming).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });
    readsFail = true;
    await pass(clock, 130_000, 5_000); // past the 2-minute grace
    await engine.refreshPrices();
    const check = engine.checkDeltas().catch((e: unknown) => e as Error);
    await pass(clock, 10_000);
    await check;
    const state = (await store.getOperation(openId))?.state;
    const types = events.map((e) => e.type);
    console.log(state, types);
    if (state === 'open') expect(types.filter((t) => t === 'recovery' || t === 'opened').length).toBeGreaterThan(0);
  }, 30_000);
});
