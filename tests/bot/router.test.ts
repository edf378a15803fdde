import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { CommandRouter } from '../../src/bot/router.js';
import { Decimal } from '../../src/engine/index.js';
import type { ChatUser, Role } from '../../src/bot/types.js';
import { startTestEngine, type EngineHarness } from '../support/engineHarness.js';

const ADMIN: ChatUser = { userId: '1', name: 'alice' };
const TRADER: ChatUser = { userId: '2', name: 'bob' };
const VIEWER: ChatUser = { userId: '3', name: 'carol' };
const STRANGER: ChatUser = { userId: '9', name: 'mallory' };
const ROLES: Record<string, Role> = { '1': 'admin', '2': 'trader', '3': 'viewer' };

let h: EngineHarness;
let router: CommandRouter;

const say = async (user: ChatUser, text: string) => {
  const reply = await router.handleMessage({ user, chatId: 'ops', text });
  if (!reply) throw new Error('no reply');
  return reply;
};

/** Everything that a refused request must leave untouched. */
async function snapshot() {
  const ledger = await h.store.listLedger();
  return {
    unfinished: (await h.store.listUnfinishedOperations()).length,
    positions: (await h.store.listPositions()).length,
    ledger: ledger.length,
    mode: await h.engine.currentMode(),
  };
}

beforeEach(async () => {
  h = await startTestEngine();
  router = new CommandRouter({
    engine: h.engine,
    roles: (userId) => ROLES[userId] ?? null,
    logger: pino({ level: 'silent' }),
    settings: { quoteTtlMs: 60_000, fundingHoldDays: 7 },
    botUsername: 'arb_bot',
  });
});

describe('bad input gets a specific answer and changes nothing', () => {
  const cases: [string, RegExp][] = [
    ['/open', /missing the coin and amount.*\/open <COIN> <USD per leg>/i],
    ['/open BTC', /missing the USD amount/i],
    ['/open BTC -5', /must be positive/i],
    ['/open BTC 0', /more than 0/i],
    ['/open ZZZ 100', /unknown coin ZZZ/i],
    ['/open BTC 1e40', /"1e40" is not an amount/i],
    ['/open BTC 12abc', /is not an amount/i],
    ['/open BTC 10', /too small for BTC/i],
    ['/open BTC 30000', /above the limit of 25000\.00 USD/i],
    ['/open BTC 100 extra', /too many arguments/i],
    ['/open 💣💣💣 100', /not a coin symbol/i],
    ['/close NOPE', /no open hedge matches "NOPE"/i],
    ['/close', /missing which hedge/i],
    ['/funding 0', /not a count from 1 to 50/i],
    ['/mode banana', /unknown mode/i],
    ['/mode live', /live trading is not configured/i],
    ['/frobnicate', /unknown command \/frobnicate/i],
    ['hello there', /only understand commands/i],
    [`/open ${'A'.repeat(600)}`, /too long/i],
  ];
  for (const [text, expected] of cases) {
    it(`${text.slice(0, 30)}`, async () => {
      const before = await snapshot();
      const reply = await say(ADMIN, text);
      expect(reply.text).toMatch(expected);
      expect(reply.text.split('\n')).toHaveLength(1);
      expect(reply.buttons).toBeUndefined();
      expect(await snapshot()).toEqual(before);
    });
  }

  it('echoes odd unicode input shortened and without control characters', async () => {
    const reply = await say(ADMIN, `/open BTC 1\u202e${'9'.repeat(40)}`);
    expect(reply.text).not.toContain('\u202e');
    expect(reply.text).toContain('…');
  });
});

describe('commands', () => {
  it('accepts the @botname suffix and ignores commands for another bot', async () => {
    expect((await say(VIEWER, '/status@arb_bot')).text).toMatch(/Mode PAPER/);
    expect(await router.handleMessage({ user: VIEWER, chatId: 'ops', text: '/status@other_bot' })).toBeNull();
  });

  it('/help lists every command with its usage', async () => {
    const text = (await say(VIEWER, '/help')).text;
    for (const usage of ['/open <COIN> <USD per leg>', '/close <COIN | position id>', '/status', '/mode [paper|live]', '/funding [N]']) {
      expect(text).toContain(usage);
    }
  });

  it('/funding N ranks N coins by net APR, best first', async () => {
    const lines = (await say(VIEWER, '/funding 5')).text.split('\n').slice(1);
    expect(lines).toHaveLength(5);
    const nets = lines.map((l) => Number(/(-?[\d.]+)% net/.exec(l)?.[1]));
    expect([...nets].sort((a, b) => b - a)).toEqual(nets);
    expect(lines[0]).toMatch(/every \d+h/);
  });
});

describe('authorization, by command and by button', () => {
  it('a viewer reads but cannot open; a stranger can do nothing; refusals are audited', async () => {
    const before = await snapshot();
    expect((await say(VIEWER, '/open BTC 1000')).text).toMatch(/needs the trader role; you are viewer/);
    expect((await say(STRANGER, '/status')).text).toMatch(/not authorized/);
    expect((await say(STRANGER, '/open BTC 1000')).text).toMatch(/not authorized/);
    expect((await say(TRADER, '/mode paper')).text).toMatch(/needs the admin role/);
    expect(await snapshot()).toEqual(before);
    const audit = await h.engine.recentAudit(10);
    expect(audit.filter((a) => a.outcome.startsWith('refused'))).toHaveLength(4);
  });

  it("someone else's Confirm is refused and leaves the confirmation for the requester", async () => {
    const preview = await say(TRADER, '/open ETH 1000');
    const confirm = preview.buttons?.find((b) => b.label === 'Confirm');
    expect(confirm).toBeDefined();
    const data = confirm?.data ?? '';
    for (const user of [STRANGER, VIEWER, { userId: '4', name: 'dave' }]) {
      const answer = await router.handleButton({ user, chatId: 'ops', data });
      expect(answer.spent).toBe(false);
      expect(answer.notice).toMatch(/not authorized|needs the trader role|Only bob/);
    }
    expect(await h.store.listOpenPositions()).toHaveLength(0);
    const answer = await router.handleButton({ user: TRADER, chatId: 'ops', data });
    expect(answer.spent).toBe(true);
    expect(answer.reply?.text).toMatch(/open ETH confirmed by bob/);
    expect((await answer.followUp)?.text).toMatch(/ETH hedge \S+ opened .*confirmed by bob/);
    expect(await h.store.listOpenPositions()).toHaveLength(1);
  });

  it('a double tap on Confirm opens one hedge, never two', async () => {
    const preview = await say(TRADER, '/open SOL 1000');
    const data = preview.buttons?.[0]?.data ?? '';
    const [first, second] = await Promise.all([
      router.handleButton({ user: TRADER, chatId: 'ops', data }),
      router.handleButton({ user: TRADER, chatId: 'ops', data }),
    ]);
    const outcomes = await Promise.all([first, second].map(async (a) => (await a.followUp)?.text ?? a.reply?.text ?? ''));
    expect(outcomes.filter((t) => /opened/.test(t))).toHaveLength(1);
    expect(outcomes.filter((t) => /already/.test(t))).toHaveLength(1);
    expect(await h.store.listOpenPositions()).toHaveLength(1);
    const fills = (await h.store.listLedger()).filter((e) => e.kind === 'fee');
    expect(fills).toHaveLength(2);
  });

  it('an admin may confirm a trader’s preview; Cancel leaves nothing placed', async () => {
    const open = await say(TRADER, '/open BTC 1000');
    const cancel = open.buttons?.find((b) => b.label === 'Cancel')?.data ?? '';
    const answer = await router.handleButton({ user: ADMIN, chatId: 'ops', data: cancel });
    expect(answer.reply?.text).toMatch(/Cancelled open BTC .* by alice\. Nothing was placed/);
    const confirm = open.buttons?.find((b) => b.label === 'Confirm')?.data ?? '';
    const late = await router.handleButton({ user: TRADER, chatId: 'ops', data: confirm });
    expect(late.reply?.text).toMatch(/already cancelled/);
    expect(await h.store.listOpenPositions()).toHaveLength(0);
  });

  it('a stale confirmation is refused after 60 s and when the price moved', async () => {
    const first = await say(TRADER, '/open BTC 1000');
    await h.clock.advance(61_000);
    const expired = await router.handleButton({ user: TRADER, chatId: 'ops', data: first.buttons?.[0]?.data ?? '' });
    expect((await expired.followUp)?.text).toMatch(/expired .* send the command again/);

    const second = await say(TRADER, '/open BTC 1000');
    h.exchange.shock('BTC', new Decimal('1.01'));
    const moved = await router.handleButton({ user: TRADER, chatId: 'ops', data: second.buttons?.[0]?.data ?? '' });
    expect((await moved.followUp)?.text).toMatch(/moved \d+\.\d bps since the preview/);
    expect(await h.store.listOpenPositions()).toHaveLength(0);
  });
});
