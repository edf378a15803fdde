import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { AppProcess, runApp } from '../support/appProcess.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';
import { OPS_CHAT, STRANGER, TOKEN, TRADER, ask, startTelegramApp, type TelegramApp } from '../support/telegramApp.js';
import { recordOutcome } from './support/outcomes.js';

const SECRETS = {
  BINANCE_API_KEY: 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A',
  BINANCE_API_SECRET: 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j',
  OKX_API_PASSWORD: 'Zq8#mK2!pL9@vX4',
};
let t: TelegramApp | null = null;
afterAll(async () => {
  await t?.stop();
});

describe('secrets never appear in logs, errors or chat', () => {
  it('scans every log line and chat message of a run with failures, outages and bad input', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    Object.assign(process.env, SECRETS);
    t = await startTelegramApp({ ALERT_MIN_GAP_MS: '0', ALERT_MAX_BACKOFF_MS: '300', SIM_FAULTS: 'perp:ETH:reject' }, pino({ level: 'trace' }, sink));
    await ask(t, STRANGER, '/open BTC 1000');
    await ask(t, TRADER, `/open ${TOKEN} 100`);
    await ask(t, TRADER, '/open BTC 1e400');
    const preview = await ask(t, TRADER, '/open ETH 1000');
    t.emulator.press(TRADER, preview, 'Confirm');
    await t.emulator.waitFor((m) => /ROLLBACK ETH/.test(m.text));
    // Network failures quote the request URL, which carries the token.
    t.emulator.outage(1_500);
    t.app.engine.events.emit({ type: 'error', critical: true, operation: null, code: 'TEST', message: 'during outage' });
    t.emulator.failNext('sendMessage', 2, 429, 1);
    t.emulator.failNext('sendMessage', 1, 400, 1);
    await t.emulator.waitFor((m) => /during outage|could not be shown/.test(m.text), 20_000);

    // The process too: its stdout and stderr, with a bad setting and with a good one.
    const bad = await runApp([], { TELEGRAM_BOT_TOKEN: TOKEN, OPS_CHAT_ID: 'not-a-number', ADMIN_IDS: '1', ...SECRETS });
    const consoleRun = await runApp(['/status', `/open ${TOKEN}`], { REDIS_URL: testRedisUrl(), REDIS_PREFIX: randomPrefix(), LOG_LEVEL: 'trace', ...SECRETS });
    const unreachable = new AppProcess({ TELEGRAM_BOT_TOKEN: TOKEN, OPS_CHAT_ID: '-100', ADMIN_IDS: '1', TELEGRAM_API_ROOT: 'http://127.0.0.1:9', REDIS_URL: testRedisUrl(), REDIS_PREFIX: randomPrefix(), LOG_LEVEL: 'trace', ...SECRETS });
    const failed = await unreachable.exited;

    const chat = [...t.emulator.sent.map((m) => m.text), ...t.emulator.callbackAnswers.map((a) => a.text ?? '')].join('\n');
    const outputs = { logs, chat, badConfig: bad.stdout + bad.stderr, console: consoleRun.stdout + consoleRun.stderr, unreachable: failed.stdout + failed.stderr };
    expect(logs.length).toBeGreaterThan(1_000);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/Telegram refused to start the bot/);
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of [TOKEN, TOKEN.split(':')[1] ?? TOKEN, ...Object.values(SECRETS)]) {
        if (text.includes(secret)) leaks.push(`${where} contains ${secret.slice(0, 6)}…`);
      }
    }
    expect(leaks).toEqual([]);
    expect(t.emulator.inChat(OPS_CHAT).length).toBeGreaterThan(0);
    const scanned = Object.values(outputs).reduce((n, text) => n + text.length, 0);
    recordOutcome({
      group: 'Secrets',
      fault: 'bot token and exchange API keys configured; bad input quoting the token, rollback, Bot API outage, 429, 400, bad config, unreachable Bot API',
      tries: 1,
      outcome: `${scanned.toLocaleString('en')} characters of logs (trace level), chat and process output scanned: no secret found`,
      passed: true,
    });
  });
});
