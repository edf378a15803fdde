import * as ccxt from 'ccxt';
import { describe, expect, it } from 'vitest';
import { Decimal, ManualClock } from '../../../src/engine/index.js';
import { mapCcxtError } from '../../../src/engine/exchange/ccxtErrors.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import type { Exchange } from '../../../src/engine/exchange/port.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { startLiveEngine } from '../../support/engineHarness.js';
import { ALICE, pass } from './support.js';

// binance spot {"code":-1013,"msg":"Filter failure: NOTIONAL"}: ccxt 4.5.84 maps -1013 to BadRequest
// (common 'exact'); okx an sCode it does not know (e.g. 51169, reduce-only with no position) to
// ExchangeError via code "1". Both are the venue saying no; nothing was placed.
describe('a definite refusal filed by ccxt under BadRequest never leaves an operation unfinished for good', () => {
  it('close: every spot sell refused with binance -1013 (looked up as unknown): recovery rounds end, the team is told to act, no id is sent twice, the coin is free again', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
    const live: Exchange = Object.create(venue) as Exchange;
    let refuse = false;
    const sends: string[] = [];
    live.placeOrder = async (r) => {
      sends.push(r.clientOrderId);
      if (refuse && r.kind === 'spot' && r.side === 'sell') {
        throw mapCcxtError(new ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'), { venue: 'binance', action: 'placeOrder', what: `sell ${r.qty.toString()} ${r.symbol}` });
      }
      return venue.placeOrder(r);
    };
    const { engine, events } = await startLiveEngine({ clock, store, venue, live: live });
    const open = await engine.previewOpen('ETH', new Decimal(2000), ALICE);
    await engine.confirm(open.operation.id, ALICE);
    refuse = true;
    const close = await engine.previewClose('ETH', ALICE);
    const closing = engine.confirm(close.operation.id, ALICE).catch((e: unknown) => e as Error);
    await pass(clock, 10_000);
    const first = await closing;
    for (let i = 0; i < 6; i += 1) {
      await engine.refreshPrices();
      const check = engine.checkDeltas().catch((e: unknown) => e as Error);
      await pass(clock, 10_000);
      await check;
    }
    const state = (await store.getOperation(close.operation.id))?.state;
    const gaveUp = events.filter((e) => e.type === 'error' && e.code === 'RECOVERY_GAVE_UP');
    // A second /close is refused over the stuck one.
    const again = await engine.previewClose('ETH', ALICE);
    const secondP = engine.confirm(again.operation.id, ALICE).catch((e: unknown) => (e as Error).message);
    await pass(clock, 10_000);
    const second = await secondP;
    expect(state).toBe('failed');
    expect((await store.getOperation(close.operation.id))?.errorCode).toBe('RECOVERY_GAVE_UP');
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ critical: true, message: expect.stringMatching(/act by hand/) });
    expect(new Set(sends).size).toBe(sends.length);
    expect((first as { code?: string }).code).toBe('ORDER_OUTCOME_UNKNOWN');
    // The coin is not left quiet: the legs drifted apart (perp closed, spot held), which is alerted.
    expect(events.some((e) => e.type === 'drift' && e.critical)).toBe(true);
    expect(typeof second).toBe('string');
  }, 30_000);
});
