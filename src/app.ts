import { toAlert } from './bot/alerts.js';
import { ConsoleChat, CONSOLE_CHAT_ID } from './bot/console.js';
import { CommandRouter } from './bot/router.js';
import { TelegramFront } from './bot/telegram.js';
import type { Role as ChatRole, RoleResolver } from './bot/types.js';
import type { AppConfig } from './config.js';
import { Engine, systemClock, type Clock, type EngineConfig, type Requester } from './engine/index.js';
import { FaultPlan } from './engine/exchange/faults.js';
import { createCcxtExchange, type FetchImplementation } from './engine/exchange/ccxtExchange.js';
import type { Exchange } from './engine/exchange/port.js';
import { SimulatedExchange } from './engine/exchange/simulatedExchange.js';
import { RedisLocks } from './engine/store/redisLocks.js';
import { RedisStore } from './engine/store/redisStore.js';
import { TELEGRAM_GROUP_PACING, type SenderPacing } from './jobs/alertSender.js';
import { JobRuntime } from './jobs/runtime.js';
import { redactSecrets } from './logger.js';
import type { Logger } from 'pino';
import type { Readable, Writable } from 'node:stream';

/**
 * The venues: market data and, when live trading is configured, the live order venue. A real
 * venue without keys gives paper trading on its real prices and funding; with keys, live too.
 * EXCHANGE=simulated wires the live path to a simulated venue, for rehearsals: one venue for prices,
 * funding and orders, as a real one is, so the funding the ledger books and the venue pays agree.
 */
async function venues(config: AppConfig, clock: Clock, io: AppIo): Promise<{ exchange: Exchange; liveExchange?: Exchange }> {
  const spotVenue = config.SPOT_EXCHANGE ?? config.EXCHANGE;
  const perpVenue = config.PERP_EXCHANGE ?? config.EXCHANGE;
  if (!spotVenue || !perpVenue) return { exchange: new SimulatedExchange({ clock, seed: config.SIM_SEED }) };
  if (spotVenue === 'simulated') {
    const venue = new SimulatedExchange({ clock, seed: config.SIM_SEED, faults: FaultPlan.parse(config.SIM_FAULTS), legLatencyMs: config.SIM_LEG_LATENCY_MS });
    return { exchange: venue, liveExchange: venue };
  }
  const keys: Record<string, { apiKey?: string; secret?: string; password?: string }> = {
    binance: { apiKey: config.BINANCE_API_KEY, secret: config.BINANCE_API_SECRET },
    bybit: { apiKey: config.BYBIT_API_KEY, secret: config.BYBIT_API_SECRET },
    okx: { apiKey: config.OKX_API_KEY, secret: config.OKX_API_SECRET, password: config.OKX_API_PASSWORD },
  };
  const credentials: Record<string, { apiKey: string; secret: string; password?: string }> = {};
  for (const venue of new Set([spotVenue, perpVenue])) {
    const k = keys[venue];
    if (k?.apiKey && k.secret) credentials[venue] = { apiKey: k.apiKey, secret: k.secret, ...(k.password ? { password: k.password } : {}) };
  }
  const venue = await createCcxtExchange({
    spotVenue,
    perpVenue,
    credentials,
    sandbox: config.EXCHANGE_SANDBOX,
    leverage: config.PERP_LEVERAGE,
    marginMode: config.PERP_MARGIN_MODE,
    logger: io.logger.child({ component: 'ccxt' }),
    clock,
    ...(io.ccxtFetch ? { fetchImplementation: io.ccxtFetch } : {}),
  });
  const keyed = [spotVenue, perpVenue].every((v) => credentials[v]);
  return keyed ? { exchange: venue, liveExchange: venue } : { exchange: venue };
}

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
    maintenanceMarginRate: config.MAINTENANCE_MARGIN_RATE,
    liquidationAlertPct: config.LIQUIDATION_ALERT_PCT,
    fundingMismatchToleranceUsd: config.FUNDING_MISMATCH_TOLERANCE_USD,
    fundingMismatchTolerancePct: config.FUNDING_MISMATCH_TOLERANCE_PCT,
    fundingAlertAprPct: config.FUNDING_ALERT_APR_PCT ?? null,
    paperFaults: FaultPlan.parse(config.SIM_FAULTS),
    paperLegLatencyMs: config.SIM_LEG_LATENCY_MS,
  };
}

/** Roles from the id lists; the highest list a user is on wins; anyone else is a stranger. */
function telegramRoles(config: AppConfig): RoleResolver {
  const lists: [ChatRole, string[]][] = [
    ['admin', config.ADMIN_IDS],
    ['trader', config.TRADER_IDS],
    ['viewer', config.VIEWER_IDS],
  ];
  return (userId) => lists.find(([, ids]) => ids.includes(userId))?.[0] ?? null;
}

/** The terminal has no rate limit: alerts print as soon as they are taken. */
const CONSOLE_PACING: SenderPacing = { maxPerWindow: 1_000, windowMs: 1_000, minGapMs: 0, maxBackoffMs: 1_000, idlePollMs: 50 };

export interface AppHandle {
  engine: Engine;
  /** The simulated venue (market data unless a real venue serves it; tests move its prices). */
  exchange: SimulatedExchange;
  router: CommandRouter;
  /** Runs a confirmed operation through the operations queue (job id = operation id). */
  submitOperation(operationId: string, by: Requester): Promise<unknown>;
  /** The Telegram front, when this process runs one. */
  telegram: TelegramFront | null;
  /** Resolves when the console reaches the end of its input (never for Telegram or workers). */
  finished: Promise<void>;
  /** Stops taking commands, finishes in-flight work, delivers queued alerts, closes connections. */
  stop(): Promise<void>;
}

export interface AppIo {
  redisUrl: string;
  logger: Logger;
  stdin?: Readable;
  stdout?: Writable;
  /** One line of start-up information for the operator. */
  say?: (line: string) => void;
  /** Tests: a clock of their own, and recorded venue answers in place of the network. */
  clock?: Clock;
  ccxtFetch?: FetchImplementation;
}

/** Builds and starts everything one process runs for its role. */
export async function startApp(config: AppConfig, io: AppIo): Promise<AppHandle> {
  const { redisUrl, logger } = io;
  const say = io.say ?? ((): void => undefined);
  const telegram = Boolean(config.TELEGRAM_BOT_TOKEN);
  const store = await RedisStore.connect(redisUrl, config.REDIS_PREFIX);
  const locks = RedisLocks.connect(redisUrl, config.REDIS_PREFIX, config.LOCK_TTL_MS);
  const clock = io.clock ?? systemClock;
  const { exchange, liveExchange } = await venues(config, clock, io);
  const simulated = exchange instanceof SimulatedExchange ? exchange : null;
  const engine = await Engine.create({
    config: engineConfig(config),
    clock,
    store,
    exchange,
    ...(liveExchange ? { liveExchange } : {}),
    logger,
    locks: locks.locks,
  });

  let consoleChat: ConsoleChat | null = null;
  let front: TelegramFront | null = null;
  const runtime = new JobRuntime({
    redisUrl,
    prefix: config.REDIS_PREFIX,
    role: config.ROLE,
    engine,
    logger,
    fundingScanMs: config.FUNDING_SCAN_MS,
    deltaCheckMs: config.DELTA_CHECK_MS,
    operationConcurrency: config.OPERATION_CONCURRENCY,
    pacing: telegram
      ? { ...TELEGRAM_GROUP_PACING, maxPerWindow: config.ALERT_MAX_PER_MINUTE, minGapMs: config.ALERT_MIN_GAP_MS, maxBackoffMs: config.ALERT_MAX_BACKOFF_MS }
      : CONSOLE_PACING,
    chatSend: async (text) => {
      if (front) return front.sendToOps(text);
      consoleChat?.print({ text });
      return { ok: true };
    },
  });
  engine.subscribe((event) => {
    void toAlert(engine, event)
      .then((alert) => (alert ? runtime.publish(alert) : undefined))
      .catch((err: unknown) => logger.error({ err: redactSecrets(String(err)) }, 'could not queue an alert'));
  });

  const router = new CommandRouter({
    engine,
    // The console operator is the only user and has every right.
    roles: telegram ? telegramRoles(config) : () => 'admin',
    logger,
    settings: { quoteTtlMs: config.QUOTE_TTL_MS, fundingHoldDays: config.FUNDING_HOLD_DAYS },
    runOperation: (operationId, by) => runtime.runOperation(operationId, by),
  });
  if (telegram && config.ROLE !== 'worker') {
    front = new TelegramFront({
      token: config.TELEGRAM_BOT_TOKEN ?? '',
      ...(config.TELEGRAM_API_ROOT ? { apiRoot: config.TELEGRAM_API_ROOT } : {}),
      router,
      engine,
      opsChatId: config.OPS_CHAT_ID ?? '',
      commandMaxAgeMs: config.COMMAND_MAX_AGE_MS,
      logger,
    });
  } else if (!telegram && config.ROLE !== 'worker') {
    consoleChat = new ConsoleChat(router, io.stdin ?? process.stdin, io.stdout ?? process.stdout);
  }

  const mode = (await engine.currentMode()).toUpperCase();
  say(`Funding-arb bot · ${mode} mode · role ${config.ROLE} · ${simulated ? 'simulated market' : `${exchange.name} market data`}, ${engine.coins().length} coins · chat ${front ? 'Telegram' : consoleChat ? 'console' : 'none'}`);
  if (config.SIM_FAULTS) say(`Fault injection on: ${config.SIM_FAULTS}`);
  await runtime.start();
  const recovered = await engine.start({ recover: config.ROLE !== 'bot' });
  for (const r of recovered) logger.info(r, 'recovered operation');
  if (front) {
    router.setBotUsername(await front.start());
    logger.info({ bot: front.username }, 'telegram bot polling');
  }
  if (consoleChat) say(`Type /help for commands. Chat id ${CONSOLE_CHAT_ID}.\n`);

  const priceTimer = setInterval(() => void engine.refreshPrices().catch((err: unknown) => logger.warn({ err }, 'price refresh failed')), config.PRICE_REFRESH_MS);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(priceTimer);
      consoleChat?.close();
      await front?.stop();
      await engine.drain();
      await runtime.stop();
      await locks.close();
      await store.close();
    })();
    return stopping;
  };
  const finished = consoleChat ? consoleChat.run() : new Promise<void>(() => undefined);
  return { engine, exchange: simulated ?? new SimulatedExchange({ clock, seed: config.SIM_SEED }), router, telegram: front, finished, stop, submitOperation: (id, by) => runtime.runOperation(id, by) };
}
