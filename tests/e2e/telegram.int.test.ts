import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/bot/commands.js';
import { Decimal } from '../../src/engine/index.js';
import { ADMIN, OPS_CHAT, STRANGER, TRADER, VIEWER, ask, startTelegramApp, type TelegramApp } from '../support/telegramApp.js';

let t: TelegramApp;

beforeAll(async () => {
  t = await startTelegramApp({ SIM_FAULTS: 'perp:ETH:reject,spot:DOGE:drift', EXCHANGE: 'simulated' });
});
afterAll(async () => {
  await t.stop();
});

const opsAlert = (pattern: RegExp) => t.emulator.waitFor((m) => m.chat_id === String(OPS_CHAT) && m.reply_to_message_id === undefined && pattern.test(m.text));

describe('Telegram front on a Bot API emulator', () => {
  it('publishes the command menu from the command table', () => {
    expect(t.emulator.commands.map((c) => c.command)).toEqual(COMMANDS.map((c) => c.name));
  });

  describe('every role tries every command', () => {
    const expectations: [string, Record<'admin' | 'trader' | 'viewer' | 'stranger', RegExp>][] = [
      ['/help', { admin: /Commands:/, trader: /Commands:/, viewer: /Commands:/, stranger: /not authorized/ }],
      ['/status', { admin: /Mode PAPER/, trader: /Mode PAPER/, viewer: /Mode PAPER/, stranger: /not authorized/ }],
      ['/funding 3', { admin: /Top 3 by funding APR/, trader: /Top 3/, viewer: /Top 3/, stranger: /not authorized/ }],
      ['/pnl', { admin: /PnL PAPER|No hedges yet/, trader: /PnL PAPER|No hedges yet/, viewer: /PnL PAPER|No hedges yet/, stranger: /not authorized/ }],
      ['/audit 3', { admin: /audit entries/, trader: /audit entries/, viewer: /audit entries/, stranger: /not authorized/ }],
      ['/mode', { admin: /Mode: PAPER/, trader: /Mode: PAPER/, viewer: /Mode: PAPER/, stranger: /not authorized/ }],
      ['/open LINK 500', { admin: /Open LINK hedge/, trader: /Open LINK hedge/, viewer: /needs the trader role; you are viewer/, stranger: /not authorized/ }],
      ['/close LINK', { admin: /no open hedge matches "LINK"/, trader: /no open hedge matches/i, viewer: /needs the trader role/, stranger: /not authorized/ }],
      ['/mute funding 5', { admin: /funding alerts muted for 5 min by @alice/, trader: /needs the admin role; you are trader/, viewer: /needs the admin role/, stranger: /not authorized/ }],
      ['/unmute', { admin: /Unmuted funding|Nothing to unmute/, trader: /needs the admin role/, viewer: /needs the admin role/, stranger: /not authorized/ }],
      ['/mode paper', { admin: /already in paper mode/, trader: /needs the admin role/, viewer: /needs the admin role/, stranger: /not authorized/ }],
    ];
    const users = { admin: ADMIN, trader: TRADER, viewer: VIEWER, stranger: STRANGER };
    for (const [command, byRole] of expectations) {
      it(command, async () => {
        for (const [role, user] of Object.entries(users) as [keyof typeof users, (typeof users)[keyof typeof users]][]) {
          const reply = await ask(t, user, command);
          expect(`${role}: ${reply.text}`).toMatch(new RegExp(`${role}: [\\s\\S]*${byRole[role].source}`, 'i'));
        }
      });
    }

    it('refusals change nothing and are audited', async () => {
      const positions = (await t.app.engine.positions()).length;
      await ask(t, STRANGER, '/open BTC 1000');
      await ask(t, VIEWER, '/close BTC');
      expect((await t.app.engine.positions()).length).toBe(positions);
      const audit = await t.app.engine.recentAudit(5);
      expect(audit.some((a) => a.userId === String(STRANGER.id) && a.outcome === 'refused: stranger')).toBe(true);
      expect(audit.some((a) => a.userId === String(VIEWER.id) && a.outcome === 'refused: viewer')).toBe(true);
    });
  });

  it('open → others’ presses refused → requester confirms → fill alert in the ops chat', async () => {
    const preview = await ask(t, TRADER, '/open BTC 1000');
    expect(preview.text).toMatch(/Open BTC hedge, PAPER \(asked by @bob, op op\w+\)/);
    expect(preview.buttons.map((b) => b.text)).toEqual(['Confirm', 'Cancel']);
    for (const user of [STRANGER, VIEWER]) {
      const answer = await t.emulator.waitForAnswer(t.emulator.press(user, preview, 'Confirm'));
      expect(answer.text).toMatch(/not authorized|needs the trader role/);
    }
    const other = await t.emulator.waitForAnswer(t.emulator.press({ id: 4, first_name: 'Dave', username: 'dave' }, preview, 'Cancel'));
    expect(other.text).toMatch(/not authorized/);
    expect(preview.buttonsRemoved).toBe(false);
    const answer = await t.emulator.waitForAnswer(t.emulator.press(TRADER, preview, 'Confirm'));
    expect(answer.text).toMatch(/Confirmed/);
    const fill = await opsAlert(/FILLED BTC hedge/);
    expect(fill.text).toMatch(/asked by @bob, op op\w+/);
    expect(fill.text).toMatch(/spot BUY 0\.01 BTC @ [\d,.]+ \(fee [\d.]+\)\n\s+perp SELL 0\.01 BTC/);
    const outcome = await t.emulator.waitFor((m) => m.reply_to_message_id === preview.message_id && /✅ BTC hedge \w+ opened/.test(m.text));
    expect(outcome.text).toMatch(/confirmed by @bob/);
    expect(preview.buttonsRemoved).toBe(true);
  });

  it('a perp rejection rolls the spot leg back and alerts with both legs', async () => {
    const preview = await ask(t, TRADER, '/open ETH 1000');
    t.emulator.press(TRADER, preview, 'Confirm');
    const rollback = await opsAlert(/ROLLBACK ETH/);
    expect(rollback.text).toMatch(/perp leg failed: .*rejected/);
    expect(rollback.text).toMatch(/spot leg had filled: spot BUY/);
    expect(rollback.text).toMatch(/reversed: spot SELL/);
  });

  it('legs that drift apart are closed and a drift alert names both', async () => {
    const preview = await ask(t, TRADER, '/open DOGE 1000');
    t.emulator.press(TRADER, preview, 'Confirm');
    const drift = await opsAlert(/DRIFT DOGE/);
    expect(drift.text).toMatch(/spot [\d.]+ vs perp [\d.]+ = 30\d\.\d bps/);
    expect(drift.text).toMatch(/both legs closed/);
  });

  it('a confirmation whose price moved is refused and nothing is placed', async () => {
    const before = (await t.app.engine.positions()).length;
    const preview = await ask(t, TRADER, '/open SOL 1000');
    t.app.exchange.shock('SOL', new Decimal('1.02'));
    t.emulator.press(TRADER, preview, 'Confirm');
    const refusal = await t.emulator.waitFor((m) => m.reply_to_message_id === preview.message_id && /❌/.test(m.text));
    expect(refusal.text).toMatch(/SOL moved \d+\.\d bps since the preview .* nothing was placed/);
    expect((await t.app.engine.positions()).length).toBe(before);
  });

  it('a duplicated update and a double-tapped Confirm make exactly one operation', async () => {
    const { messageId, updateId } = t.emulator.sendText(TRADER, OPS_CHAT, '/open AVAX 700');
    const preview = await t.emulator.waitFor((m) => m.reply_to_message_id === messageId);
    t.emulator.redeliver(updateId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.emulator.sent.filter((m) => m.reply_to_message_id === messageId)).toHaveLength(1);
    const first = t.emulator.press(TRADER, preview, 'Confirm');
    const second = t.emulator.press(TRADER, preview, 'Confirm');
    await Promise.all([t.emulator.waitForAnswer(first), t.emulator.waitForAnswer(second)]);
    await t.emulator.waitFor((m) => m.reply_to_message_id === preview.message_id && /✅ AVAX hedge/.test(m.text));
    const avax = (await t.app.engine.positions()).filter((p) => p.coin === 'AVAX');
    expect(avax).toHaveLength(1);
  });

  it('a command older than two minutes is answered, not run', async () => {
    const { messageId } = t.emulator.sendText(TRADER, OPS_CHAT, '/open XRP 500', { dateSeconds: Math.floor(Date.now() / 1000) - 300 });
    const reply = await t.emulator.waitFor((m) => m.reply_to_message_id === messageId);
    expect(reply.text).toMatch(/arrived \d+ s late .* not run; send it again/);
    expect(reply.buttons).toEqual([]);
  });

  it('works in a private chat too, and ignores chatter in the group', async () => {
    const reply = await ask(t, VIEWER, '/status@arb_test_bot', VIEWER.id);
    expect(reply.text).toMatch(/Mode PAPER/);
    const { messageId } = t.emulator.sendText(VIEWER, OPS_CHAT, 'gm everyone');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.emulator.sent.some((m) => m.reply_to_message_id === messageId)).toBe(false);
  });

  it('/mode live needs an admin and a second confirmation', async () => {
    const positions = await t.app.engine.positions();
    for (const p of positions.filter((x) => x.status === 'open')) {
      const preview = await ask(t, ADMIN, `/close ${p.id}`);
      t.emulator.press(ADMIN, preview, 'Confirm');
      await t.emulator.waitFor((m) => m.reply_to_message_id === preview.message_id && /closed|❌/.test(m.text));
    }
    const preview = await ask(t, ADMIN, '/mode live');
    expect(preview.text).toMatch(/Switch to LIVE trading with real money \(asked by @alice/);
    const refused = await t.emulator.waitForAnswer(t.emulator.press(TRADER, preview, 'Confirm'));
    expect(refused.text).toMatch(/needs the admin role|Only an admin/);
    expect(await t.app.engine.currentMode()).toBe('paper');
    t.emulator.press(ADMIN, preview, 'Confirm');
    await t.emulator.waitFor((m) => m.reply_to_message_id === preview.message_id && /Mode switched to LIVE/.test(m.text));
    expect(await t.app.engine.currentMode()).toBe('live');
    expect((await ask(t, ADMIN, '/mode paper')).text).toMatch(/switched to PAPER by @alice/);
  });

  it('splits messages longer than 4096 characters at line boundaries, losing nothing', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(30)}`);
    const before = t.emulator.sent.length;
    const outcome = await t.app.telegram?.sendToOps(lines.join('\n'));
    expect(outcome).toEqual({ ok: true });
    const pieces = t.emulator.sent.slice(before).filter((m) => m.text.startsWith('line'));
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.every((m) => m.text.length <= 4096)).toBe(true);
    expect(pieces.map((m) => m.text).join('\n')).toBe(lines.join('\n'));
  });
});
