import { PassThrough, Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type AppHandle } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/engine/index.js';
import { binanceVenue } from '../engine/exchange/ccxtVenueFixtures.js';
import type { HttpReplayer } from '../engine/exchange/ccxtReplayer.js';
import { randomPrefix, testRedisUrl } from '../support/redis.js';

const OPERATOR = { userId: 'local', name: 'operator' };
let app: AppHandle;
let venue: HttpReplayer;

beforeAll(async () => {
  venue = binanceVenue();
  const config = loadConfig({ EXCHANGE: 'binance', REDIS_URL: testRedisUrl(), REDIS_PREFIX: randomPrefix(), SIM_LEG_LATENCY_MS: '0' });
  // The recorded tickers were taken at the clock's start, so prices are fresh.
  app = await startApp(config, { redisUrl: testRedisUrl(), logger: pino({ level: 'silent' }), clock: new ManualClock(), ccxtFetch: venue.fetch, stdin: Readable.from([]), stdout: new PassThrough() });
});
afterAll(async () => {
  await app.stop();
});

describe('paper trading on real market data (binance, recorded answers, no keys)', () => {
  it('ranks the venue’s funding, previews at its prices, and fills on paper without sending an order', async () => {
    const funding = await app.router.handleMessage({ user: OPERATOR, chatId: 'console', text: '/funding 3' });
    expect(funding?.text).toMatch(/BTC|ETH|SOL/);
    const preview = await app.router.handleMessage({ user: OPERATOR, chatId: 'console', text: '/open BTC 1000' });
    // binance spot BTC last 95,009.00 and perp 95,020.10, moved 5 bps against us.
    expect(preview?.text).toMatch(/spot BUY {2}0\.01 @ ~95,056\.50/);
    expect(preview?.text).toMatch(/perp SELL 0\.01 @ ~94,972\.59/);
    const answer = await app.router.handleButton({ user: OPERATOR, chatId: 'console', data: preview?.buttons?.[0]?.data ?? '' });
    expect((await answer.followUp)?.text).toMatch(/BTC hedge \w+ opened/);
    const [position] = await app.engine.positions();
    expect(position?.mode).toBe('paper');
    expect(position?.spotLeg.entryPrice.toString()).toBe('95056.5045');
    expect(venue.requests.filter((r) => r.method === 'POST')).toEqual([]);
    expect(app.engine.liveConfigured()).toBe(false);
    const mode = await app.router.handleMessage({ user: OPERATOR, chatId: 'console', text: '/mode live' });
    expect(mode?.text).toMatch(/live trading is not configured/i);
  });
});
