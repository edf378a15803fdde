import { resolve } from 'node:path';
import { startApp } from './app.js';
import { SECRET_KEYS, loadConfig, type AppConfig } from './config.js';
import { FaultPlan } from './engine/exchange/faults.js';
import { RedisServerMissingError, ensureRedisServerInstalled, startRedisServer, type RedisServerHandle } from './infra/redisServer.js';
import { createLogger, redactSecrets, scrubValues } from './logger.js';

/** The process: configuration, the embedded Redis when none is given, signals, exit codes. */
async function main(): Promise<number> {
  let config: AppConfig;
  try {
    config = loadConfig();
    FaultPlan.parse(config.SIM_FAULTS);
  } catch (err) {
    process.stderr.write(`${redactSecrets(err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }
  const secrets = SECRET_KEYS.map((key) => config[key]).filter((value): value is string => Boolean(value));
  const logger = createLogger(config.LOG_LEVEL ?? (config.TELEGRAM_BOT_TOKEN ? 'info' : 'warn'), secrets);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);

  let redis: RedisServerHandle | null = null;
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    if (config.ROLE !== 'all') {
      process.stderr.write(`ROLE=${config.ROLE} shares a Redis with other processes: set REDIS_URL\n`);
      return 2;
    }
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
    say(`Embedded Redis on port ${redis.port}, data in ${resolve(config.DATA_DIR, 'redis')}`);
  }

  let app;
  try {
    app = await startApp(config, { redisUrl, logger, say });
  } catch (err) {
    process.stderr.write(`could not start: ${scrubValues(err instanceof Error ? err.message : String(err), secrets)}\n`);
    await redis?.stop();
    return 1;
  }
  const shutdown = async (): Promise<void> => {
    await app.stop();
    await redis?.stop();
  };
  const onSignal = (): void => void shutdown().then(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await app.finished;
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
