import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Decimal, Engine, ManualClock, type EngineEvent, type HoldingDifference, type Position, type Requester } from '../../src/engine/index.js';
import { SimulatedExchange } from '../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../src/engine/store/memoryStore.js';
import { livePosition } from '../support/engine.js';
import { testEngineConfig } from '../support/engineHarness.js';
import { VENUE_CASES, exchangeOver } from './exchange/ccxtVenueFixtures.js';

const ADMIN: Requester = { userId: '1', name: 'alice', chatId: 'ops' };
const legOf = (d: HoldingDifference): string => `${d.coin} ${d.leg} held ${d.heldQty.toString()} recorded ${d.recordedQty.toString()}`;

describe('startup reconciliation against the venue (ccxt, recorded responses)', () => {
  for (const venue of VENUE_CASES) {
    describe(venue.venue, () => {
      async function startLive(positions: Position[]) {
        const replayer = venue.replayer();
        const exchange = await exchangeOver(venue.venue, replayer);
        const clock = new ManualClock();
        const store = new MemoryStore();
        await store.setMode('live');
        for (const p of positions) await store.putPosition(p);
        const events: EngineEvent[] = [];
        const engine = await Engine.create({ config: testEngineConfig(), clock, store, exchange, liveExchange: exchange, logger: pino({ level: 'silent' }) });
        engine.subscribe((e) => events.push(e));
        await engine.start();
        return { engine, events };
      }

      it('matches stored hedges that the venue holds', async () => {
        const { engine, events } = await startLive([livePosition('BTC', '0.00999', '0.01', Date.now())]);
        expect(await engine.currentMode()).toBe('live');
        expect(events.filter((e) => e.type === 'reconcile')).toEqual([]);
        expect(await engine.haltReason()).toBeNull();
      });

      it('reports a mismatch, halts new opens until an admin resumes', async () => {
        const { engine, events } = await startLive([livePosition('BTC', '0.02', '0.02', Date.now())]);
        const alert = events.find((e) => e.type === 'reconcile');
        expect(alert?.type === 'reconcile' && alert.differences.map(legOf)).toEqual([
          'BTC spot held 0.00999 recorded 0.02',
          'BTC perp held 0.01 recorded 0.02',
        ]);
        await expect(engine.previewOpen('BTC', new Decimal(1000), ADMIN)).rejects.toMatchObject({ code: 'RISK_TRADING_HALTED' });
        expect((await engine.status()).halted.map(legOf)).toEqual(['BTC spot held 0.00999 recorded 0.02', 'BTC perp held 0.01 recorded 0.02']);
        expect(await engine.resumeTrading(ADMIN)).toHaveLength(2);
        expect(await engine.haltReason()).toBeNull();
        expect(await engine.resumeTrading(ADMIN)).toEqual([]);
      });

      it('reports a short on the venue that no stored hedge explains', async () => {
        const { events } = await startLive([]);
        const alert = events.find((e) => e.type === 'reconcile');
        expect(alert?.type === 'reconcile' && alert.differences.map(legOf)).toContain('BTC perp held 0.01 recorded 0');
      });
    });
  }
});

describe('reconciliation on the simulated live venue', () => {
  it('a paper account always matches its ledger', async () => {
    const clock = new ManualClock();
    const exchange = new SimulatedExchange({ clock });
    const engine = await Engine.create({ config: testEngineConfig(), clock, store: new MemoryStore(), exchange, logger: pino({ level: 'silent' }) });
    await engine.start();
    const preview = await engine.previewOpen('BTC', new Decimal(1000), ADMIN);
    await engine.confirm(preview.operation.id, ADMIN);
    expect(await engine.reconcile()).toEqual([]);
  });
});
