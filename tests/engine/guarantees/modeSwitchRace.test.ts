import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Engine, ManualClock, type EngineEvent, type Requester } from '../../../src/engine/index.js';
import { FaultPlan } from '../../../src/engine/exchange/faults.js';
import { SimulatedExchange } from '../../../src/engine/exchange/simulatedExchange.js';
import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import type { TradingMode } from '../../../src/engine/domain/types.js';
import { testEngineConfig } from '../../support/engineHarness.js';

const ADMIN: Requester = { userId: 'u1', name: 'alice', chatId: 'ops' };
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

class SlowSwitchStore extends MemoryStore {
  hold: Promise<void> | null = null;
  entered = false;
  override async switchMode(mode: TradingMode, except: string) {
    const result = await super.switchMode(mode, except);
    this.entered = true;
    if (this.hold) await this.hold;
    return result;
  }
}

describe('a delta check never touches a mode change being applied', () => {
  it('confirm /mode live while a delta check runs: the switch and its record and answer agree', async () => {
    const clock = new ManualClock();
    const store = new SlowSwitchStore();
    const venue = new SimulatedExchange({ clock, seed: 7, faults: new FaultPlan(), legLatencyMs: 0 });
    const engine = await Engine.create({ config: testEngineConfig(), clock, store, exchange: venue, liveExchange: venue, logger: pino({ level: 'silent' }) });
    const events: EngineEvent[] = [];
    engine.subscribe((e) => events.push(e));
    await engine.start();
    const preview = await engine.previewMode('live', ADMIN);
    let release: () => void = () => undefined;
    store.hold = new Promise<void>((r) => (release = r));
    const confirming = engine.confirm(preview.id, ADMIN).then(() => 'ok', (e: unknown) => (e as Error).message);
    for (let i = 0; i < 50 && !store.entered; i += 1) await flush();
    expect(store.entered).toBe(true);
    await engine.checkDeltas();
    release();
    const answer = await confirming;
    const op = await store.getOperation(preview.id);
    // The switch happened, so the operation must be done and the answer must say so.
    expect((await store.getModeState()).mode).toBe('live');
    expect(answer).toBe('ok');
    expect(op?.state).toBe('done');
  });
});
