import { resolve } from 'node:path';
import { ConsoleChat, CONSOLE_CHAT_ID } from './bot/console.js';
import { Notifier } from './bot/notifier.js';
import { CommandRouter } from './bot/router.js';
import { loadConfig, type AppConfig } from './config.js';
import { Engine, systemClock, type EngineConfig } from './engine/index.js';
import { FaultPlan } from './engine/exchange/faults.js';
import { SimulatedExchange } from './engine/exchange/simulatedExchange.js';
import { RedisStore } from './engine/store/redisStore.js';
import { RedisServerMissingError, ensureRedisServerInstalled, startRedisServer, type RedisServerHandle } from './infra/redisServer.js';
import { createLogger, redactSecrets } from './logger.js';

/** Composition root: the only place that knows paper from live and console from Telegram. */
function engineConfig(config: AppConfig): EngineConfig {
  return {
    initialMode: config.TRADING_MODE,
    hedgeTimeoutMs: config.HEDGE_TIMEOUT_MS,
    driftToleranceBps: config.DRIFT_TOLERANCE_BPS,
    quoteToleranceBps: config.QUOTE_TOLERANCE_BPS,
    quoteTtlMs: config.QUOTE_TTL_MS,
    maxPriceAgeMs: 60_000,
    limits: {
      maxPositionNotionalUsd: config.MAX_POSITION_NOTIONAL_USD,
      maxTotalExposureUsd: config.MAX_TOTAL_EXPOSURE_USD,
      maxOpenPositions: config.MAX_OPEN_POSITIONS,
      perpLeverage: config.PERP_LEVERAGE,
    },
    paperStartUsdt: config.PAPER_START_USDT,
    fundingHoldDays: config.FUNDING_HOLD_DAYS,
    fundingAlertAprPct: config.FUNDING_ALERT_APR_PCT ?? null,
    paperFaults: FaultPlan.parse(config.SIM_FAULTS),
    paperLegLatencyMs: config.SIM_LEG_LATENCY_MS,
  };
}

async function main(): Promise<number> {
  let config: AppConfig;
  try {
    config = loadConfig();
    FaultPlan.parse(config.SIM_FAULTS);
  } catch (err) {
    process.stderr.write(`${redactSecrets(err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }
  if (config.ROLE !== 'all') {
    process.stderr.write(`ROLE=${config.ROLE} needs the BullMQ jobs and shared locks that are not built yet; use ROLE=all\n`);
    return 2;
  }
  if (config.TELEGRAM_BOT_TOKEN) {
    process.stderr.write('The Telegram front is not built yet; unset TELEGRAM_BOT_TOKEN to use the console chat.\n');
    return 2;
  }
  const logger = createLogger(config.LOG_LEVEL ?? 'warn');
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  let redis: RedisServerHandle | null = null;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    try {
      ensureRedisServerInstalled(say);
    } catch (err) {
      if (err instanceof RedisServerMissingError) {
        process.stderr.write(`${err.message}\nor set REDIS_URL to a running Redis.\n`);
        return 2;
      }
      throw err;
    }
    redis = await startRedisServer({ dataDir: resolve(config.DATA_DIR, 'redis') });
    redisUrl = redis.url;
  }

  const store = await RedisStore.connect(redisUrl, config.REDIS_PREFIX);
  const exchange = new SimulatedExchange({ clock: systemClock, seed: config.SIM_SEED });
  const engine = await Engine.create({ config: engineConfig(config), clock: systemClock, store, exchange, logger });

  const router = new CommandRouter({
    engine,
    // The console operator is the only user and has every right.
    roles: () => 'admin',
    logger,
    settings: { quoteTtlMs: config.QUOTE_TTL_MS, fundingHoldDays: config.FUNDING_HOLD_DAYS },
  });
  const chat = new ConsoleChat(router, process.stdin, process.stdout);
  const notifier = new Notifier((text) => Promise.resolve(chat.print({ text })), logger);
  engine.subscribe(notifier.onEvent);

  say(`Funding-arb bot · ${(await engine.currentMode()).toUpperCase()} mode · simulated market, ${engine.coins().length} coins · Redis ${redis ? 'embedded (./data)' : 'external'}`);
  if (config.SIM_FAULTS) say(`Fault injection on: ${config.SIM_FAULTS}`);
  const recovered = await engine.start();
  for (const r of recovered) logger.info(r, 'recovered operation');
  await notifier.flush();
  say(`Type /help for commands. Chat id ${CONSOLE_CHAT_ID}.\n`);

  const timers = [
    setInterval(() => void engine.refreshPrices().catch((err: unknown) => logger.warn({ err }, 'price refresh failed')), config.PRICE_REFRESH_MS),
    setInterval(() => void engine.checkDeltas().catch((err: unknown) => logger.warn({ err }, 'delta check failed')), config.DELTA_CHECK_MS),
    setInterval(() => {
      void engine.scanFunding().then(() => engine.accrueFunding()).catch((err: unknown) => logger.warn({ err }, 'funding scan failed'));
    }, config.FUNDING_SCAN_MS),
  ];

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    await engine.drain();
    await notifier.flush();
    await store.close();
    await redis?.stop();
  };
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));

  await chat.run();
  await shutdown();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${redactSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(1);
  },
);
