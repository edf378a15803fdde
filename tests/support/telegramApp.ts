import type { Logger } from 'pino';
import { startTelegramAppOn, type TelegramApp } from './telegramAppCore.js';
import { testRedisUrl } from './redis.js';

export { ADMIN, OPS_CHAT, STRANGER, TOKEN, TRADER, VIEWER, ask, type TelegramApp } from './telegramAppCore.js';

/** The app against the test project's Redis, with its own key prefix. */
export function startTelegramApp(env: Record<string, string> = {}, logger?: Logger): Promise<TelegramApp> {
  return startTelegramAppOn(testRedisUrl(), env, logger);
}
