import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has a working embedded default', () => {
    const config = loadConfig({});
    expect(config.TRADING_MODE).toBe('paper');
    expect(config.ROLE).toBe('all');
    expect(config.MAX_POSITION_NOTIONAL_USD.toString()).toBe('25000');
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('names the variable in every error and never echoes a secret', () => {
    expect(() => loadConfig({ MAX_OPEN_POSITIONS: 'many' })).toThrow(/MAX_OPEN_POSITIONS/);
    expect(() => loadConfig({ DRIFT_TOLERANCE_BPS: '-5' })).toThrow(/DRIFT_TOLERANCE_BPS: must be a plain positive number/);
    expect(() => loadConfig({ TRADING_MODE: 'live' })).toThrow(/EXCHANGE: required with TRADING_MODE=live/);
    expect(() => loadConfig({ EXCHANGE: 'kraken' })).toThrow(/EXCHANGE: not supported; use binance, bybit, okx or simulated/);
    expect(() => loadConfig({ EXCHANGE: 'binance', BINANCE_API_KEY: 'k'.repeat(40) })).toThrow(/BINANCE_API_SECRET: required with BINANCE_API_KEY/);
    expect(() => loadConfig({ TRADING_MODE: 'live', EXCHANGE: 'okx' })).toThrow(/OKX_API_KEY: required with TRADING_MODE=live on okx/);
    try {
      loadConfig({ TELEGRAM_BOT_TOKEN: '123456:SECRETSECRETSECRETSECRETSECRET', OPS_CHAT_ID: 'abc', ADMIN_IDS: '1' });
    } catch (err) {
      expect(String(err)).toMatch(/OPS_CHAT_ID/);
      expect(String(err)).not.toContain('SECRETSECRET');
    }
  });

  it('reads the funding mismatch tolerance, 0.01 USD plus 2 % by default', () => {
    const defaults = loadConfig({});
    expect([defaults.FUNDING_MISMATCH_TOLERANCE_USD.toString(), defaults.FUNDING_MISMATCH_TOLERANCE_PCT.toString()]).toEqual(['0.01', '2']);
    const set = loadConfig({ FUNDING_MISMATCH_TOLERANCE_USD: '0.5', FUNDING_MISMATCH_TOLERANCE_PCT: '0' });
    expect([set.FUNDING_MISMATCH_TOLERANCE_USD.toString(), set.FUNDING_MISMATCH_TOLERANCE_PCT.toString()]).toEqual(['0.5', '0']);
    expect(() => loadConfig({ FUNDING_MISMATCH_TOLERANCE_USD: '-1' })).toThrow(/FUNDING_MISMATCH_TOLERANCE_USD: must be a plain positive number/);
  });

  it('reads an optional file (.env lines or JSON); the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fab-config-'));
    const envFile = join(dir, 'bot.env');
    writeFileSync(envFile, '# ops settings\nMAX_OPEN_POSITIONS=3\nREDIS_PREFIX="desk1:"\nSIM_SEED=7\n');
    const fromFile = loadConfig({ CONFIG_FILE: envFile, SIM_SEED: '9' });
    expect(fromFile.MAX_OPEN_POSITIONS).toBe(3);
    expect(fromFile.REDIS_PREFIX).toBe('desk1:');
    expect(fromFile.SIM_SEED).toBe(9);
    const jsonFile = join(dir, 'bot.json');
    writeFileSync(jsonFile, JSON.stringify({ MAX_TOTAL_EXPOSURE_USD: 5000 }));
    expect(loadConfig({ CONFIG_FILE: jsonFile }).MAX_TOTAL_EXPOSURE_USD.toString()).toBe('5000');
    expect(() => loadConfig({ CONFIG_FILE: join(dir, 'missing.env') })).toThrow(/CONFIG_FILE: cannot read/);
  });

  it('says what is wrong with a JSON file without quoting any of it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fab-config-'));
    const secret = '123456:SECRETabcdefghijklmnopqrstuvwxyz0123456789';
    const file = join(dir, 'bot.json');
    // Cut off mid-value, as a half-saved file would be.
    writeFileSync(file, `{\n  "OPS_CHAT_ID": "-100123",\n  "TELEGRAM_BOT_TOKEN": "${secret.slice(0, 20)}`);
    const message = messageOf(() => loadConfig({ CONFIG_FILE: file }));
    expect(message).toBe(`invalid configuration:\n  CONFIG_FILE: ${file} is not valid JSON (at line 3)`);
    for (const part of ['SECRET', '123456:', '"TELEGRAM', 'OPS_CHAT_ID', '-100123']) expect(message).not.toContain(part);

    writeFileSync(file, `{"TELEGRAM_BOT_TOKEN": ${secret}}`);
    expect(messageOf(() => loadConfig({ CONFIG_FILE: file }))).not.toMatch(/SECRET|123456/);

    writeFileSync(file, JSON.stringify([secret]));
    expect(messageOf(() => loadConfig({ CONFIG_FILE: file }))).toBe(
      `invalid configuration:\n  CONFIG_FILE: ${file} must hold one JSON object of settings, such as {"MAX_OPEN_POSITIONS": "3"}`,
    );
    writeFileSync(file, JSON.stringify({ TELEGRAM_BOT_TOKEN: { token: secret } }));
    expect(messageOf(() => loadConfig({ CONFIG_FILE: file }))).toBe(
      `invalid configuration:\n  CONFIG_FILE: ${file}: TELEGRAM_BOT_TOKEN must be a string, number or boolean, not an object`,
    );
    writeFileSync(file, JSON.stringify({ [secret]: [1] }));
    const unknownKey = messageOf(() => loadConfig({ CONFIG_FILE: file }));
    expect(unknownKey).toMatch(/a setting must be a string, number or boolean, not an array/);
    expect(unknownKey).not.toContain('SECRET');
  });

  it('echoes no value in any error, secret or not', () => {
    const marker = 'ZQXJ echo!7';
    for (const name of ['ROLE', 'TRADING_MODE', 'REDIS_PREFIX', 'LOG_LEVEL', 'TELEGRAM_API_ROOT', 'OPS_CHAT_ID', 'ADMIN_IDS', 'MAX_OPEN_POSITIONS', 'SIM_SEED', 'EXCHANGE_SANDBOX', 'PERP_MARGIN_MODE', 'PERP_LEVERAGE', 'FUNDING_ALERT_APR_PCT', 'EXCHANGE', 'SPOT_EXCHANGE', 'PERP_EXCHANGE']) {
      const message = messageOf(() => loadConfig({ [name]: marker }));
      expect(message).toContain(name);
      expect(message).not.toContain('ZQXJ');
    }
  });
});

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected an error');
}
