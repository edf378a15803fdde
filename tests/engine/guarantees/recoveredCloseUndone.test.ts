import { describe, expect, it } from 'vitest';
import { Decimal, ManualClock, type Requester } from '../../../src/engine/index.js';
import { OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { startLiveEngine } from '../../support/engineHarness.js';

const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
const ZERO = new Decimal(0);
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
async function pass(clock: ManualClock, ms: number, stepMs = 250): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await flush();
    await clock.advance(stepMs);
  }
  await flush();
}

/** The first order matching `drop` never reaches the venue: a network error before it was sent. */
function dropFirst(venue: SimulatedExchange, drop: (r: { kind: string; side: string }) => boolean): Exchange {
  const wrapped: Exchange = Object.create(venue) as Exchange;
  let dropped = false;
  wrapped.placeOrder = async (request) => {
    if (!dropped && drop(request)) {
      dropped = true;
      throw new OrderTimeoutError('ECONNRESET before the request reached the venue');
    }
    return venue.placeOrder(request);
  };
  return wrapped;
}

describe('a close finished by recovery stays closed: the late-fill sweep never takes its fill back', () => {
  for (const leg of ['spot', 'perp'] as const) {
    it(`close ${leg} order lost before the venue; recovery closes it under a fresh client id; venue flat, no late fill`, async () => {
      const clock = new ManualClock();
      const store = new MemoryStore();
      const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
      const live = dropFirst(venue, (r) => r.kind === leg && r.side === (leg === 'spot' ? 'sell' : 'buy'));
      const { engine, events } = await startLiveEngine({ clock, store, venue, live: live });

      const open = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
      await engine.confirm(open.operation.id, ALICE);
      const close = await engine.previewClose('ETH', ALICE);
      const closing = engine.confirm(close.operation.id, ALICE).catch((e: unknown) => e as Error);
      await pass(clock, 5_000);
      expect(await closing).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN' });
      expect((await store.getOperation(close.operation.id))?.state).toBe('placing');

      await pass(clock, 15_000);
      await engine.refreshPrices();
      await engine.checkDeltas();
      expect((await store.getOperation(close.operation.id))?.state).toBe('closed');
      await engine.checkDeltas();

      const b = await venue.fetchBalances();
      const held = { spot: (b.spot.get('ETH') ?? ZERO).toString(), perp: (b.perp.get('ETH-PERP') ?? ZERO).neg().toString() };
      // The records say closed and flat: the venue must be flat too.
      expect(events.map((e) => e.type)).not.toContain('late_fill');
      expect(held).toEqual({ spot: expect.stringMatching(/^0(\.0+)?$|^0\.000/), perp: '0' });
    });
  }
});
