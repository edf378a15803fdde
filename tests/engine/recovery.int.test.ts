import { afterEach, describe, expect, it } from 'vitest';
import { Decimal, ManualClock } from '../../src/engine/index.js';
import { FaultPlan } from '../../src/engine/exchange/faults.js';
import { RedisStore } from '../../src/engine/store/redisStore.js';
import { startTestEngine } from '../support/engineHarness.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';

const OPERATOR = { userId: 'u1', name: 'alice', chatId: 'ops' };
const stores: RedisStore[] = [];

async function connect(prefix: string): Promise<RedisStore> {
  const store = await RedisStore.connect(testRedisUrl(), prefix);
  stores.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('recovery of interrupted operations from Redis', () => {
  it('rolls back a half-placed open left by a crash, before accepting new work, and reports it', async () => {
    const prefix = randomPrefix();
    const clock = new ManualClock();
    // First run: the perp leg never answers and the process "dies" while waiting.
    const crashed = await startTestEngine({
      store: await connect(prefix),
      clock,
      config: { paperFaults: FaultPlan.parse('perp:BTC:timeout'), hedgeTimeoutMs: 3_600_000 },
    });
    const preview = await crashed.engine.previewOpen('BTC', new Decimal(1000), OPERATOR);
    void crashed.engine.confirm(preview.operation.id, OPERATOR).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stuck = await crashed.store.getOperation(preview.operation.id);
    expect(stuck?.state).toBe('placing');
    expect(await crashed.store.getFill(`${preview.operation.id}s`)).not.toBeNull();

    // Second run on the same Redis, no faults: recovery happens inside start().
    const store = await connect(prefix);
    const restarted = await startTestEngine({ store, clock });
    expect(restarted.recovery).toEqual([
      { operationId: preview.operation.id, kind: 'open', coin: 'BTC', outcome: expect.stringMatching(/rolled back \(spot 0\.01 BTC\)/) as unknown },
    ]);
    const alert = restarted.events.find((e) => e.type === 'recovery');
    expect(alert?.type === 'recovery' && alert.operation.state).toBe('rolled_back');
    const op = await store.getOperation(preview.operation.id);
    expect(op?.state).toBe('rolled_back');
    // The recovery round is a step of its own, stored before its undo order.
    expect(op?.steps.map((s) => s.state)).toEqual(['requested', 'confirmed', 'placing', 'placing', 'rolled_back']);
    const undo = await store.getFill(`${preview.operation.id}r1su`);
    expect(undo?.side).toBe('sell');
    expect(undo?.filledQty.toString()).toBe(preview.spot.qty.toString());
    expect(await store.getFill(`${preview.operation.id}p`)).toBeNull();
    expect(await store.listOpenPositions()).toEqual([]);
    expect(await store.listUnfinishedOperations()).toEqual([]);
    // Spot account holds no BTC any more and lost only fees and slippage.
    const balances = await restarted.engine.balances();
    expect(balances.spot.get('BTC')?.isZero()).toBe(true);
    const usdt = balances.spot.get('USDT') ?? new Decimal(0);
    expect(usdt.lt(50_000) && usdt.gt(49_995)).toBe(true);
  });

  it('reports each recovered operation through the event stream', async () => {
    const prefix = randomPrefix();
    const clock = new ManualClock();
    const crashed = await startTestEngine({
      store: await connect(prefix),
      clock,
      config: { paperFaults: FaultPlan.parse('spot:ETH:timeout'), hedgeTimeoutMs: 3_600_000 },
    });
    const preview = await crashed.engine.previewOpen('ETH', new Decimal(500), OPERATOR);
    void crashed.engine.confirm(preview.operation.id, OPERATOR).catch(() => undefined);
    await clock.advance(1_000);
    const stale = await crashed.engine.previewOpen('SOL', new Decimal(500), OPERATOR);
    await new Promise((resolve) => setTimeout(resolve, 100));

    // The SOL preview is still confirmable for a while: a restart leaves it alone.
    const early = await startTestEngine({ store: await connect(prefix), clock, config: { hedgeTimeoutMs: 3_600_000, paperFaults: FaultPlan.parse('spot:ETH:timeout') } });
    expect(early.recovery.map((r) => r.coin)).toEqual(['ETH']);
    expect((await early.store.getOperation(stale.operation.id))?.state).toBe('requested');
    // Once it expired, the next start marks it so.
    await clock.advance(61_000);
    const store = await connect(prefix);
    const { recovery, events } = await startTestEngine({ store, clock });
    expect(early.recovery[0]?.outcome).toMatch(/rolled back \(perp [\d.]+ ETH\)/);
    expect(recovery.map((r) => [r.coin, r.outcome])).toEqual([['SOL', expect.stringMatching(/preview expired/) as unknown]]);
    expect((await store.getOperation(preview.operation.id))?.state).toBe('rolled_back');
    expect((await store.getOperation(stale.operation.id))?.state).toBe('expired');
    // The rollback wakes the team; an expired preview does not.
    expect(early.events.filter((e) => e.type === 'recovery').map((e) => e.type === 'recovery' && e.operation.coin)).toEqual(['ETH']);
    expect(events.filter((e) => e.type === 'recovery')).toEqual([]);
    const undone = await store.getFill(`${preview.operation.id}r1pu`);
    expect(undone?.side).toBe('buy');
  });
});
