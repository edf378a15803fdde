import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { Decimal, Engine, ManualClock, type EngineEvent, type Requester } from '../../src/engine/index.js';
import { MemoryStore } from '../../src/engine/store/memoryStore.js';
import { SimulatedExchange } from '../../src/engine/exchange/simulatedExchange.js';
import type { Exchange } from '../../src/engine/exchange/port.js';
import { sumLedger } from '../../src/engine/execution/paperExecutor.js';
import { startTestEngine, testEngineConfig, type EngineHarness } from '../support/engineHarness.js';

const ALICE: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
const HOUR = 3_600_000;
const ZERO = new Decimal(0);

async function openHedge(h: EngineHarness, coin: string, usd: number) {
  const preview = await h.engine.previewOpen(coin, new Decimal(usd), ALICE);
  const { position } = await h.engine.confirm(preview.operation.id, ALICE);
  if (!position) throw new Error(`${coin} did not open`);
  return position;
}

async function closeHedge(h: EngineHarness, coin: string) {
  const preview = await h.engine.previewClose(coin, ALICE);
  const { position } = await h.engine.confirm(preview.operation.id, ALICE);
  if (!position) throw new Error(`${coin} did not close`);
  return position;
}

/** Moves time in steps, keeping prices fresh and booking funding, as the scheduled jobs do. */
async function live(h: EngineHarness, hours: number): Promise<void> {
  for (let i = 0; i < hours * 2; i += 1) {
    await h.clock.advance(HOUR / 2);
    await h.engine.refreshPrices();
    await h.engine.accrueFunding();
  }
}

describe('ledger identity', () => {
  it('after hedges open, earn funding and close, USDT equals the start plus realised PnL plus funding, exactly', async () => {
    const h = await startTestEngine();
    for (const [coin, usd] of [['BTC', 5000], ['DOGE', 2000], ['SUI', 3000]] as const) await openHedge(h, coin, usd);
    await live(h, 24);
    const closed = await Promise.all(['BTC', 'DOGE', 'SUI'].map((coin) => closeHedge(h, coin)));

    const ledger = await h.store.listLedger();
    const funding = ledger.filter((e) => e.kind === 'funding').reduce((s, e) => s.plus(e.amount), ZERO);
    const realised = closed.reduce((s, p) => s.plus(p.realisedPnlUsd ?? ZERO), ZERO);
    const balances = await h.engine.balances();
    const usdt = (balances.spot.get('USDT') ?? ZERO).plus(balances.perp.get('USDT') ?? ZERO);

    expect(funding.isZero()).toBe(false);
    expect(usdt.toString()).toBe(new Decimal(100_000).plus(realised).plus(funding).toString());
    for (const [asset, qty] of [...balances.spot, ...balances.perp]) {
      if (asset !== 'USDT') expect(`${asset} ${qty.toString()}`).toBe(`${asset} 0`);
    }
    // Balances are the plain sum of the ledger, nothing kept on the side.
    const summed = sumLedger(ledger, 'paper');
    expect([...summed.spot].map(([a, q]) => [a, q.toString()])).toEqual([...balances.spot].map(([a, q]) => [a, q.toString()]));
  });
});

describe('funding accrual', () => {
  it('books rate × perp notional at every funding time, once, for each open hedge', async () => {
    const h = await startTestEngine();
    const btc = await openHedge(h, 'BTC', 5000);
    const sui = await openHedge(h, 'SUI', 1000);
    await live(h, 16);
    await h.engine.accrueFunding();
    const entries = (await h.store.listLedger()).filter((e) => e.kind === 'funding');
    // BTC pays every 8 h, SUI every hour: 16 h later that is 2 and 16 bookings, never repeated.
    expect(entries.filter((e) => e.ref === btc.id)).toHaveLength(2);
    expect(entries.filter((e) => e.ref === sui.id)).toHaveLength(16);
    expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
    const rates = await h.exchange.fetchFundingRates();
    const btcRate = rates.find((r) => r.coin === 'BTC')?.rate ?? ZERO;
    const last = entries.filter((e) => e.ref === btc.id).at(-1);
    const mark = (await h.exchange.fetchTickers(['BTC/USDT:USDT']))[0]?.last ?? ZERO;
    expect(last?.amount.toString()).toBe(btcRate.mul(btc.perpLeg.qty).mul(mark).toString());
    const status = await h.engine.status();
    const view = status.positions.find((v) => v.position.id === btc.id);
    expect(view?.fundingEarnedUsd.toString()).toBe(entries.filter((e) => e.ref === btc.id).reduce((s, e) => s.plus(e.amount), ZERO).toString());
  });
});

describe('delta checks', () => {
  it('closes what is held when the account no longer matches the hedge, and raises a drift alert', async () => {
    const h = await startTestEngine();
    const eth = await openHedge(h, 'ETH', 2000);
    expect((await h.engine.checkDeltas())[0]?.withinTolerance).toBe(true);
    // Someone moves 40 % of the spot ETH out of the account.
    const moved = eth.spotLeg.qty.mul('0.4');
    await h.store.appendLedger([{ id: 'withdrawal:1', atMs: h.clock.nowMs(), kind: 'deposit', account: 'spot', asset: 'ETH', amount: moved.neg(), ref: 'manual withdrawal', mode: 'paper' }]);
    const [delta] = await h.engine.checkDeltas();
    expect(delta?.withinTolerance).toBe(false);
    expect(delta?.driftBps.toFixed(0)).toBe('4000');
    const drift = h.events.find((e) => e.type === 'drift');
    expect(drift?.type === 'drift' && drift.action).toMatch(/both legs closed \(spot 0\.3\d*, perp 0\.5\d*\)/);
    expect(await h.store.listOpenPositions()).toEqual([]);
    const balances = await h.engine.balances();
    expect(balances.spot.get('ETH')?.toString()).toBe('0');
    expect(balances.perp.get('ETH-PERP')?.toString()).toBe('0');
  });
});

describe('mode', () => {
  it('switches to live only when configured and flat, and persists the choice', async () => {
    const bare = await startTestEngine();
    await expect(bare.engine.setMode('live', ALICE)).rejects.toThrow(/live trading is not configured/);

    const h = await startTestEngine();
    const liveExchange = new SimulatedExchange({ clock: h.clock, seed: 1 });
    const withLive = await Engine.create({
      config: testEngineConfig(),
      clock: h.clock,
      store: h.store,
      exchange: h.exchange,
      liveExchange,
      logger: pino({ level: 'silent' }),
    });
    await withLive.start();
    const preview = await withLive.previewOpen('BTC', new Decimal(1000), ALICE);
    await withLive.confirm(preview.operation.id, ALICE);
    await expect(withLive.setMode('live', ALICE)).rejects.toThrow(/not flat: 1 open hedge/);
    const close = await withLive.previewClose('BTC', ALICE);
    await withLive.confirm(close.operation.id, ALICE);
    await expect(withLive.setMode('live', ALICE)).resolves.toBe('live');
    expect(await h.store.getMode()).toBe('live');
    expect((await withLive.status()).mode).toBe('live');
    await expect(withLive.setMode('live', ALICE)).rejects.toThrow(/already in live mode/);
  });
});

describe('funding scan', () => {
  it('serves the latest stored scan to every engine on the store, decoding a new one only when it changes', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const scanner = await startTestEngine({ store, clock });
    const reader = await startTestEngine({ store, clock });
    const first = await scanner.engine.scanFunding();
    const read = async () => (await reader.engine.topFunding(100)).map((r) => `${r.coin} ${r.rate.toString()}`);
    expect(await read()).toEqual(first.map((r) => `${r.coin} ${r.rate.toString()}`));
    // Asking again without a new scan reads the small time key only: the decoded rows are reused.
    const getValue = vi.spyOn(store, 'getValue');
    await reader.engine.topFunding(3);
    expect(getValue.mock.calls.map(([key]) => key)).toEqual(['funding:scan:at']);
    getValue.mockClear();

    await clock.advance(HOUR);
    const second = await scanner.engine.scanFunding();
    expect(second.map((r) => r.rate.toString())).not.toEqual(first.map((r) => r.rate.toString()));
    expect(await read()).toEqual(second.map((r) => `${r.coin} ${r.rate.toString()}`));
    expect(getValue.mock.calls.map(([key]) => key)).toEqual(['funding:scan:at', 'funding:scan']);
  });
});

describe('liquidation distance', () => {
  it('estimates the short’s liquidation price, shows it in status and alerts once when it comes near', async () => {
    const config = testEngineConfig();
    const h = await startTestEngine({ config: { limits: { ...config.limits, perpLeverage: new Decimal(5) } } });
    const position = await openHedge(h, 'BTC', 2000);
    const view = (await h.engine.status()).positions[0];
    // entry × (1 + 1/5 − 0.005)
    expect(view?.liquidationPrice.toString()).toBe(position.perpLeg.entryPrice.mul('1.195').toString());
    expect(view?.liquidationDistancePct?.toNumber()).toBeCloseTo(19.5, 0);
    await h.engine.checkDeltas();
    await h.engine.checkDeltas();
    const alerts = h.events.filter((e) => e.type === 'liquidation');
    expect(alerts).toHaveLength(1);

    const safe = await startTestEngine();
    await openHedge(safe, 'BTC', 2000);
    await safe.engine.checkDeltas();
    expect(safe.events.filter((e) => e.type === 'liquidation')).toEqual([]);
  });

  it('shows and alerts on the venue’s own liquidation price in live mode, instead of the estimate', async () => {
    let venueLiquidation: Decimal | null = null;
    // A venue that reports a liquidation price for each perp it holds, as binance, bybit and okx do.
    const reporting = (venue: SimulatedExchange): Exchange =>
      Object.assign(Object.create(venue) as SimulatedExchange, {
        async fetchBalances() {
          const balances = await venue.fetchBalances();
          return { ...balances, liquidationPrices: venueLiquidation ? new Map([['BTC-PERP', venueLiquidation]]) : new Map<string, Decimal>() };
        },
      });
    const h = await startTestEngine({ live: true, wrapLive: reporting });
    const position = await openHedge(h, 'BTC', 2000);
    const estimated = (await h.engine.status()).positions[0];
    expect(estimated?.liquidationSource).toBe('estimate');
    // At 1x: entry × (1 + 1 − 0.005), far away.
    expect(estimated?.liquidationPrice.toString()).toBe(position.perpLeg.entryPrice.mul('1.995').toString());

    venueLiquidation = position.perpLeg.entryPrice.mul('1.1');
    const reported = (await h.engine.status()).positions[0];
    expect(reported?.liquidationSource).toBe('venue');
    expect(reported?.liquidationPrice.toString()).toBe(venueLiquidation.toString());
    await h.engine.checkDeltas();
    const alerts = h.events.filter((e): e is Extract<EngineEvent, { type: 'liquidation' }> => e.type === 'liquidation');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.source).toBe('venue');
    expect(alerts[0]?.liquidationPrice.toString()).toBe(venueLiquidation.toString());
  });
});
