import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sumLedger } from '../../src/engine/execution/paperExecutor.js';
import { Decimal } from '../../src/engine/index.js';
import type { ChatUser } from '../../src/bot/types.js';
import { startTelegramApp, type TelegramApp } from '../support/telegramApp.js';
import { RedisStore } from '../../src/engine/store/redisStore.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';
import { recordOutcome } from './support/outcomes.js';

const TRADERS: ChatUser[] = Array.from({ length: 5 }, (_, i) => ({ userId: String(20 + i), name: `trader${i}` }));
let t: TelegramApp;
let store: RedisStore;
const prefix = randomPrefix();

beforeAll(async () => {
  t = await startTelegramApp({ REDIS_PREFIX: prefix, TRADER_IDS: TRADERS.map((u) => u.userId).join(','), SIM_LEG_LATENCY_MS: '30' });
  store = await RedisStore.connect(testRedisUrl(), prefix);
});
afterAll(async () => {
  await store.close();
  await t.stop();
});

async function holdings(coin: string): Promise<{ spot: Decimal; perp: Decimal }> {
  const balances = sumLedger(await store.listLedger(), 'paper');
  return { spot: balances.spot.get(coin) ?? new Decimal(0), perp: (balances.perp.get(`${coin}-PERP`) ?? new Decimal(0)).neg() };
}

describe('duplicates and races', () => {
  it('50 concurrent /open BTC from five traders, all confirmed at once: one hedge, 49 refusals, ledger consistent', async () => {
    const previews = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const user = TRADERS[i % TRADERS.length] ?? { userId: '20', name: 'trader0' };
        return t.app.router.handleMessage({ user, chatId: 'ops', text: '/open BTC 1000' }).then((reply) => ({ user, data: reply?.buttons?.[0]?.data ?? '' }));
      }),
    );
    expect(previews.every((p) => p.data.startsWith('confirm:'))).toBe(true);
    const answers = await Promise.all(previews.map((p) => t.app.router.handleButton({ user: p.user, chatId: 'ops', data: p.data })));
    const outcomes = await Promise.all(answers.map((a) => a.followUp ?? Promise.resolve(undefined)));
    const opened = outcomes.filter((o) => /✅ BTC hedge \w+ opened/.test(o?.text ?? ''));
    const refused = outcomes.filter((o) => /already has an open hedge/.test(o?.text ?? ''));
    expect(opened).toHaveLength(1);
    expect(refused).toHaveLength(49);
    const open = (await store.listOpenPositions()).filter((p) => p.coin === 'BTC');
    expect(open).toHaveLength(1);
    const held = await holdings('BTC');
    expect(held.spot.toString()).toBe(open[0]?.spotLeg.qty.toString());
    expect(held.perp.toString()).toBe(open[0]?.perpLeg.qty.toString());
    expect((await store.listLedger()).filter((e) => e.kind === 'fee')).toHaveLength(2);
    recordOutcome({ group: 'Duplicates and races', fault: '50 concurrent /open BTC from 5 traders, all confirmed at the same moment', tries: 50, outcome: `${opened.length} hedge opened, ${refused.length} refused (BTC already open); 2 orders in the ledger`, passed: true });
  });

  it('/close while the /open is still placing is refused; afterwards it closes both legs', async () => {
    const user = TRADERS[0] ?? { userId: '20', name: 'trader0' };
    const preview = await t.app.router.handleMessage({ user, chatId: 'ops', text: '/open ETH 1000' });
    const answer = await t.app.router.handleButton({ user, chatId: 'ops', data: preview?.buttons?.[0]?.data ?? '' });
    const early = await t.app.router.handleMessage({ user, chatId: 'ops', text: '/close ETH' });
    expect(early?.text).toMatch(/no open hedge matches "ETH"/i);
    expect((await answer.followUp)?.text).toMatch(/ETH hedge \w+ opened/);
    const close = await t.app.router.handleMessage({ user, chatId: 'ops', text: '/close ETH' });
    const closing = await t.app.router.handleButton({ user, chatId: 'ops', data: close?.buttons?.[0]?.data ?? '' });
    expect((await closing.followUp)?.text).toMatch(/ETH hedge \w+ closed/);
    const held = await holdings('ETH');
    expect([held.spot.toString(), held.perp.toString()]).toEqual(['0', '0']);
    recordOutcome({ group: 'Duplicates and races', fault: '/close sent while the /open of the same coin was placing', tries: 1, outcome: 'close refused (no open hedge yet); after the fill the close ran and both legs are flat', passed: true });
  });

  it('the same operation submitted twice to the operations queue runs once', async () => {
    const user = TRADERS[1] ?? { userId: '21', name: 'trader1' };
    const by = { userId: user.userId, name: user.name, chatId: 'ops' };
    const preview = await t.app.engine.previewOpen('SOL', new Decimal(1000), by);
    const before = (await store.listLedger()).length;
    // Two processes submitting the same confirmed operation: one job id, one run.
    const results = await Promise.all([t.app.submitOperation(preview.operation.id, by), t.app.submitOperation(preview.operation.id, by)]);
    expect(results[0]).toEqual(results[1]);
    expect((await t.app.engine.getOperation(preview.operation.id))?.state).toBe('open');
    expect((await store.listLedger()).length - before).toBe(6);
    recordOutcome({ group: 'Duplicates and races', fault: 'the same operation submitted twice to the operations queue at once', tries: 2, outcome: 'one job, one fill per leg (6 ledger lines), both callers got the same result', passed: true });
  });
});
