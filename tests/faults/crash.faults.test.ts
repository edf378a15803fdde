import { afterAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/engine/index.js';
import { sumLedger } from '../../src/engine/execution/paperExecutor.js';
import { RedisStore } from '../../src/engine/store/redisStore.js';
import type { Operation } from '../../src/engine/domain/types.js';
import { AppProcess, runApp, until } from '../support/appProcess.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';
import { recordOutcome } from './support/outcomes.js';

const stores: RedisStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

interface Scenario {
  name: string;
  /** Open a BTC hedge in a first, clean run (for close scenarios). */
  openFirst?: boolean;
  command: string;
  faults?: string;
  hedgeTimeoutMs?: number;
  /** True when the process must die now; `ops` are the operations of the command under test. */
  killWhen: (store: RedisStore, op: Operation) => Promise<boolean>;
  /** Extra wait after the condition, so the next step is in flight when the process dies. */
  killDelayMs?: number;
}

const fill = (store: RedisStore, op: Operation, code: string) => store.getFill(`${op.id}${code}`);

const SCENARIOS: Scenario[] = [
  { name: 'open: after the operation is persisted, before any fill', command: '/open BTC 1000', killWhen: async (_s, op) => op.state === 'placing' },
  {
    name: 'open: spot leg filled, perp leg still in flight',
    command: '/open BTC 1000',
    faults: 'perp:BTC:timeout',
    hedgeTimeoutMs: 60_000,
    killWhen: async (s, op) => (await fill(s, op, 's')) !== null,
  },
  { name: 'open: both legs filled', command: '/open BTC 1000', killWhen: async (s, op) => (await fill(s, op, 's')) !== null && (await fill(s, op, 'p')) !== null },
  {
    name: 'open: during the rollback of the spot leg',
    command: '/open BTC 1000',
    faults: 'perp:BTC:reject',
    killWhen: async (s, op) => (await fill(s, op, 's')) !== null,
    killDelayMs: 300,
  },
  {
    name: 'open: during the emergency close after drift',
    command: '/open BTC 1000',
    faults: 'spot:BTC:drift',
    killWhen: async (s, op) => (await fill(s, op, 's')) !== null && (await fill(s, op, 'p')) !== null,
    killDelayMs: 300,
  },
  { name: 'close: both close orders in flight', openFirst: true, command: '/close BTC', killWhen: async (_s, op) => op.state === 'placing' },
  {
    name: 'close: spot leg closed, perp close in flight',
    openFirst: true,
    command: '/close BTC',
    faults: 'perp:BTC:timeout',
    hedgeTimeoutMs: 60_000,
    killWhen: async (s, op) => (await fill(s, op, 's')) !== null,
  },
];

describe('crash matrix: SIGKILL at each step, then restart', () => {
  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const prefix = randomPrefix();
      const env = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, LOCK_TTL_MS: '1500', SIM_LEG_LATENCY_MS: '800' };
      const store = await RedisStore.connect(testRedisUrl(), prefix);
      stores.push(store);
      if (scenario.openFirst) {
        const first = await runApp(['/open BTC 1000', 'Confirm'], env);
        expect(first.stdout).toMatch(/FILLED BTC/);
      }
      const known = new Set((await store.listUnfinishedOperations()).map((o) => o.id));
      const app = new AppProcess({ ...env, SIM_FAULTS: scenario.faults ?? '', HEDGE_TIMEOUT_MS: String(scenario.hedgeTimeoutMs ?? 5_000) });
      app.send(scenario.command);
      await app.waitForOutput(/\[Confirm\] \[Cancel\]/);
      app.send('Confirm');
      let op: Operation | null = null;
      await until(async () => {
        op = (await store.listUnfinishedOperations()).find((o) => !known.has(o.id) && o.state !== 'requested') ?? null;
        return op !== null;
      }, 20_000, `${scenario.name}: confirmed`);
      const opId = (op as unknown as Operation).id;
      await until(async () => {
        const latest = await store.getOperation(opId);
        return latest !== null && (await scenario.killWhen(store, latest));
      }, 20_000, scenario.name);
      if (scenario.killDelayMs) await new Promise((resolve) => setTimeout(resolve, scenario.killDelayMs));
      app.kill('SIGKILL');
      await app.exited;
      const atKill = await store.getOperation(opId);
      const unfinishedAtKill = atKill !== null && ['confirmed', 'placing'].includes(atKill.state);

      const restart = await runApp(['/status'], env);
      expect(restart.code).toBe(0);
      const after = await store.getOperation(opId);
      expect(['open', 'closed', 'rolled_back', 'failed']).toContain(after?.state);
      expect(await store.listUnfinishedOperations()).toEqual([]);

      // Both legs held and recorded, or both flat.
      const balances = sumLedger(await store.listLedger(), 'paper');
      const spot = balances.spot.get('BTC') ?? new Decimal(0);
      const perp = (balances.perp.get('BTC-PERP') ?? new Decimal(0)).neg();
      const open = (await store.listOpenPositions()).filter((p) => p.coin === 'BTC');
      if (open.length === 1 && open[0]) {
        expect(spot.toString()).toBe(open[0].spotLeg.qty.toString());
        expect(perp.toString()).toBe(open[0].perpLeg.qty.toString());
      } else {
        expect(open).toEqual([]);
        expect(spot.toString()).toBe('0');
        expect(perp.toString()).toBe('0');
      }
      // No client order id was filled twice: each has exactly one set of trade lines.
      const trades = (await store.listLedger()).filter((e) => e.kind === 'trade');
      const perOrder = new Map<string, number>();
      for (const line of trades) perOrder.set(line.ref, (perOrder.get(line.ref) ?? 0) + 1);
      expect([...perOrder.values()].every((n) => n === 2)).toBe(true);
      if (unfinishedAtKill) expect(restart.stdout).toMatch(/RECOVERY/);

      const held = open.length === 1 ? `both legs held (${spot.toString()} BTC)` : 'both legs flat';
      recordOutcome({
        group: 'Crash matrix (SIGKILL, then restart)',
        fault: scenario.name,
        tries: 1,
        outcome: `${atKill?.state ?? '?'} at kill → ${after?.state ?? '?'}; ${held}; ${perOrder.size} orders, none filled twice${unfinishedAtKill ? '; recovery alert shown' : '; finished before the kill'}`,
        passed: true,
      });
    });
  }
});
