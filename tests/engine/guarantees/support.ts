import { Decimal, ManualClock, type Requester } from '../../../src/engine/index.js';
import { OrderTimeoutError } from '../../../src/engine/domain/errors.js';
import type { OrderRequest, OrderResult } from '../../../src/engine/domain/types.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { startLiveEngine } from '../../support/engineHarness.js';

export const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
export const ZERO = new Decimal(0);
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
export async function pass(clock: ManualClock, ms: number, stepMs = 250): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await flush();
    await clock.advance(stepMs);
  }
  await flush();
}

/**
 * A live venue whose orders can be held in transit: `hold` says which; a held order answers a
 * network error, the venue does not know it, until `land` delivers it (it fills then).
 */
export async function controlled(hold: (r: OrderRequest, ctl: Ctl) => boolean) {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
  const held = new Map<string, OrderRequest>();
  const sends: string[] = [];
  const ctl: Ctl = {
    land: async (cid) => {
      const r = held.get(cid);
      if (!r) throw new Error(`nothing held under ${cid}`);
      held.delete(cid);
      return venue.placeOrder(r);
    },
    held,
    sends,
  };
  const live: Exchange = Object.create(venue) as Exchange;
  live.placeOrder = async (r) => {
    sends.push(r.clientOrderId);
    if (hold(r, ctl)) {
      held.set(r.clientOrderId, r);
      throw new OrderTimeoutError('ECONNRESET: no answer');
    }
    return venue.placeOrder(r);
  };
  live.fetchOrderByClientId = async (s, id) => (held.has(id) ? null : venue.fetchOrderByClientId(s, id));
  const { engine, events } = await startLiveEngine({ clock, store, venue, live: live });
  const heldQty = async () => {
    const b = await venue.fetchBalances();
    return { spot: (b.spot.get('ETH') ?? ZERO).toString(), perp: (b.perp.get('ETH-PERP') ?? ZERO).neg().toString() };
  };
  const run = async <T>(p: Promise<T>, ms = 20_000): Promise<T | Error> => {
    const caught = p.catch((e: unknown) => e as Error);
    await pass(clock, ms);
    return caught;
  };
  return { clock, store, venue, engine, events, ctl, heldQty, run };
}

export interface Ctl {
  land(cid: string): Promise<OrderResult>;
  held: Map<string, OrderRequest>;
  sends: string[];
}
