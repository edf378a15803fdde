import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRouter } from '../../src/bot/router.js';
import type { ChatUser, Role } from '../../src/bot/types.js';
import { RedisStore } from '../../src/engine/store/redisStore.js';
import { startTestEngine, type EngineHarness } from '../support/engineHarness.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';
import { recordOutcome } from './support/outcomes.js';

const USERS: Record<string, ChatUser> = {
  admin: { userId: '1', name: 'alice' },
  trader: { userId: '2', name: 'bob' },
  trader2: { userId: '5', name: 'erin' },
  viewer: { userId: '3', name: 'carol' },
  stranger: { userId: '9', name: 'mallory' },
};
const ROLES: Record<string, Role> = { '1': 'admin', '2': 'trader', '5': 'trader', '3': 'viewer' };
const GENERIC_FAILURE = /Something went wrong on our side/;

let h: EngineHarness;
let store: RedisStore;
let router: CommandRouter;

beforeAll(async () => {
  store = await RedisStore.connect(testRedisUrl(), randomPrefix());
  h = await startTestEngine({ store });
  router = new CommandRouter({ engine: h.engine, roles: (id) => ROLES[id] ?? null, logger: pino({ level: 'silent' }), settings: { quoteTtlMs: 60_000, fundingHoldDays: 7 }, botUsername: 'arb_bot' });
});
afterAll(async () => {
  await store.close();
});

async function snapshot(): Promise<string> {
  const [unfinished, positions, ledger, mode, audit] = await Promise.all([
    store.listUnfinishedOperations(),
    store.listPositions(),
    store.listLedger(),
    store.getMode(),
    h.engine.getSetting('mutes'),
  ]);
  return JSON.stringify({ ops: unfinished.map((o) => `${o.id}:${o.state}`), positions: positions.length, ledger: ledger.length, mode, audit });
}

const nasty = fc.oneof(
  fc.constantFrom('-5', '0', 'NaN', 'Infinity', '-Infinity', '1e400', '1e40', '0x10', '1,000,000', '99999999999999999999', '.5', '5.', '1.234', '$100', '100usdt', '١٠٠', '1_000'),
  fc.constantFrom("'; DROP TABLE positions;--", '<script>alert(1)</script>', '${jndi:ldap://x/a}', '../../etc/passwd', '%00', '\u0000', '\u202eRLO', '🚀🚀🚀', '`rm -rf /`', '{"$d":"1"}', '__proto__', 'constructor', 'op123:confirm'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ minLength: 500, maxLength: 3000 }),
  fc.constantFrom('BTC', 'btc', 'ETH', 'ZZZ', 'BTC/USDT', 'pXXXX', 'all'),
);
const commandName = fc.oneof(
  fc.constantFrom('open', 'close', 'status', 'mode', 'funding', 'pnl', 'audit', 'mute', 'unmute', 'help', 'OPEN', 'Open'),
  fc.string({ maxLength: 12 }),
);
const message = fc.record({
  user: fc.constantFrom(...Object.keys(USERS)),
  name: commandName,
  mention: fc.constantFrom('', '@arb_bot', '@ARB_BOT', '@other_bot', '@'),
  args: fc.array(nasty, { maxLength: 4 }),
  slash: fc.boolean(),
});

describe('hostile input', () => {
  it('10,000 generated commands: no crash, unauthorized users change nothing, every refusal is specific', async () => {
    let runs = 0;
    let unauthorized = 0;
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(message, async ({ user, name, mention, args, slash }) => {
        runs += 1;
        const text = `${slash ? '/' : ''}${name}${mention} ${args.join(' ')}`;
        const before = await snapshot();
        const reply = await router.handleMessage({ user: USERS[user] ?? { userId: '0', name: '?' }, chatId: 'ops', text });
        const after = await snapshot();
        if (reply === null) {
          // Only a command addressed to another bot is ignored.
          const head = text.trim().split(/\s+/)[0] ?? '';
          expect(head.startsWith('/') && head.includes('@') && head.split('@')[1]?.toLowerCase() !== 'arb_bot').toBe(true);
          expect(after).toBe(before);
          return;
        }
        expect(reply.text.length).toBeGreaterThan(0);
        expect(reply.text).not.toMatch(GENERIC_FAILURE);
        const role = ROLES[USERS[user]?.userId ?? ''];
        const refused = /not authorized|needs the \w+ role/.test(reply.text);
        if (!role || refused) {
          unauthorized += 1;
          expect(after).toBe(before);
          expect(reply.buttons).toBeUndefined();
          return;
        }
        if (after !== before) {
          // Only a preview (a new requested operation) or a mute may change state.
          expect(Boolean(reply.buttons?.length) || /muted|Unmuted/.test(reply.text)).toBe(true);
        } else if (!reply.buttons && reply.text.split('\n').length === 1 && !/^(Mode|Commands|No open|Nothing to unmute|The audit log)/.test(reply.text)) {
          refusals += 1;
          expect(reply.text.length).toBeLessThan(600);
        }
      }),
      { numRuns: 10_000 },
    );
    recordOutcome({ group: 'Hostile input', fault: 'generated commands and arguments (fast-check: oversized, unicode, negative, NaN, 1e400, injection-looking)', tries: runs, outcome: `0 crashes, 0 generic failures; ${unauthorized} unauthorized attempts changed nothing; ${refusals} one-line specific refusals`, passed: true });
  }, 300_000);

  it('forged and garbage callback data: refused, and other users’ confirmations stay intact', async () => {
    const previews: string[] = [];
    for (const coin of ['BTC', 'ETH', 'SOL']) {
      const reply = await router.handleMessage({ user: USERS.trader ?? { userId: '2', name: 'bob' }, chatId: 'ops', text: `/open ${coin} 1000` });
      const data = reply?.buttons?.[0]?.data;
      if (data) previews.push(data.split(':')[1] ?? '');
    }
    expect(previews).toHaveLength(3);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          user: fc.constantFrom('trader2', 'viewer', 'stranger'),
          data: fc.oneof(
            fc.constantFrom(...previews).chain((id) => fc.constantFrom(`confirm:${id}`, `cancel:${id}`, `confirm:${id}:extra`, `CONFIRM:${id}`)),
            fc.string({ maxLength: 80 }),
            fc.constantFrom('confirm:', 'confirm:op', 'cancel:../../', 'confirm:op' + 'a'.repeat(500), ':', ''),
          ),
        }),
        async ({ user, data }) => {
          runs += 1;
          const before = await snapshot();
          const answer = await router.handleButton({ user: USERS[user] ?? { userId: '0', name: '?' }, chatId: 'ops', data });
          expect(answer.notice.length).toBeGreaterThan(0);
          expect(answer.followUp).toBeUndefined();
          expect(await snapshot()).toBe(before);
        },
      ),
      { numRuns: 2_000 },
    );
    for (const id of previews) expect((await store.getOperation(id))?.state).toBe('requested');
    recordOutcome({ group: 'Hostile input', fault: 'forged callback_data for other users’ operations and garbage payloads (trader2, viewer, stranger)', tries: runs, outcome: 'every press refused; the three previews stayed confirmable for their owner; no state change', passed: true });
  }, 120_000);
});
