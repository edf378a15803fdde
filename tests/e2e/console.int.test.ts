import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runApp } from '../support/appProcess.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';

const dataDirs: string[] = [];
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('console chat end to end', () => {
  it('opens a hedged BTC position on the embedded Redis and shows both legs, fees and drift', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fab-'));
    dataDirs.push(dataDir);
    const { code, stdout } = await runApp(['/open BTC 1000', 'Confirm', '/status'], { DATA_DIR: dataDir, REDIS_URL: '' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/Embedded Redis on port \d+/);
    expect(stdout).toMatch(/Open BTC hedge, PAPER/);
    expect(stdout).toMatch(/\[Confirm\] \[Cancel\]/);
    expect(stdout).toMatch(/FILLED BTC hedge/);
    const status = stdout.slice(stdout.lastIndexOf('Mode PAPER'));
    expect(status).toMatch(/spot \+0\.01 @ [\d,.]+ · mark/);
    expect(status).toMatch(/perp -0\.01 @ [\d,.]+ · mark/);
    expect(status).toMatch(/drift 0\.0 bps · fees 1\.4\d/);
  });

  it('rolls back the spot leg when the perp is rejected, restores balances minus costs, and alerts with both legs', async () => {
    const prefix = randomPrefix();
    const { code, stdout } = await runApp(['/open ETH 1000', 'Confirm', '/status'], {
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      SIM_FAULTS: 'perp:ETH:reject',
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/ROLLBACK ETH/);
    expect(stdout).toMatch(/perp leg failed: .*rejected/);
    expect(stdout).toMatch(/spot leg had filled: spot BUY 0\.29\d+ ETH/);
    expect(stdout).toMatch(/reversed: spot SELL 0\.29\d+ ETH/);
    const spot = /Spot ([\d,.]+) USDT/.exec(stdout.slice(stdout.lastIndexOf('Mode PAPER')))?.[1] ?? '';
    const spotUsdt = Number(spot.replace(/,/g, ''));
    // Two taker fees of ~1 USD plus 10 bps of slippage on 1000 USD: about 3 USD lost, no more.
    expect(spotUsdt).toBeLessThan(50_000);
    expect(spotUsdt).toBeGreaterThan(49_995);
    expect(stdout).toMatch(/No open hedges/);
  });

  it('keeps positions across a restart and closes them in a later run', async () => {
    const env = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: randomPrefix() };
    const first = await runApp(['/open SOL 2000', 'Confirm'], env);
    expect(first.stdout).toMatch(/FILLED SOL hedge/);
    const second = await runApp(['/status', '/close SOL', 'Confirm', '/status'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/SOL p\w+ · opened/);
    expect(second.stdout).toMatch(/Close SOL hedge/);
    expect(second.stdout).toMatch(/CLOSED SOL hedge .*\n.*\n\s+realised PnL [+-][\d,.]+ USD/);
    expect(second.stdout.slice(second.stdout.lastIndexOf('Mode PAPER'))).toMatch(/No open hedges/);
  });

  it('refuses a bad configuration with exit 2 and never echoes a secret', async () => {
    const token = '123456789:AAEhBOweik6ad6PsVMRxjeQKIhq9EkFJZeM';
    const faults = await runApp([], { SIM_FAULTS: 'perp:ETH:explode', TELEGRAM_BOT_TOKEN: token, OPS_CHAT_ID: '-100123', ADMIN_IDS: '42' });
    expect(faults.code).toBe(2);
    expect(faults.stderr).toMatch(/SIM_FAULTS entry "perp:ETH:explode"/);
    const missing = await runApp([], { TELEGRAM_BOT_TOKEN: token, OPS_CHAT_ID: '', ADMIN_IDS: 'x1' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ADMIN_IDS: must be a comma-separated list of numeric Telegram user ids/);
    const noChat = await runApp([], { TELEGRAM_BOT_TOKEN: token, OPS_CHAT_ID: '', ADMIN_IDS: '42' });
    expect(noChat.stderr).toMatch(/OPS_CHAT_ID: required with TELEGRAM_BOT_TOKEN/);
    for (const run of [faults, missing, noChat]) expect(run.stdout + run.stderr).not.toContain('AAEhBOweik6ad6PsVMRxjeQKIhq9EkFJZeM');
  });
});
