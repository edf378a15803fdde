import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { startApp, type AppHandle } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { BotApiEmulator, type EmulatedUser } from './botApiEmulator.js';

export const TOKEN = '5550001234:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
export const OPS_CHAT = -1001234567;
export const ADMIN: EmulatedUser = { id: 1, first_name: 'Alice', username: 'alice' };
export const TRADER: EmulatedUser = { id: 2, first_name: 'Bob', username: 'bob' };
export const VIEWER: EmulatedUser = { id: 3, first_name: 'Carol', username: 'carol' };
export const STRANGER: EmulatedUser = { id: 99, first_name: 'Mallory' };

export interface TelegramApp {
  emulator: BotApiEmulator;
  app: AppHandle;
  stop(): Promise<void>;
}

/**
 * The whole app in this process, talking real telegraf to the Bot API emulator over HTTP, on the
 * given Redis (tests and the bench share it; `env` overrides any setting).
 */
export async function startTelegramAppOn(redisUrl: string, env: Record<string, string> = {}, logger: Logger = pino({ level: 'silent' })): Promise<TelegramApp> {
  const emulator = new BotApiEmulator(TOKEN);
  await emulator.start();
  const config = loadConfig({
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_API_ROOT: emulator.apiRoot,
    OPS_CHAT_ID: String(OPS_CHAT),
    ADMIN_IDS: String(ADMIN.id),
    TRADER_IDS: String(TRADER.id),
    VIEWER_IDS: String(VIEWER.id),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
    SIM_LEG_LATENCY_MS: '5',
    ALERT_MIN_GAP_MS: '20',
    ALERT_MAX_PER_MINUTE: '1000',
    ...env,
  });
  const app = await startApp(config, { redisUrl: config.REDIS_URL ?? redisUrl, logger });
  return {
    emulator,
    app,
    async stop() {
      await app.stop();
      await emulator.stop();
    },
  };
}

/** Sends a command in the ops group and waits for the bot's reply threaded to it. */
export async function ask(t: TelegramApp, user: EmulatedUser, text: string, chatId = OPS_CHAT) {
  const { messageId } = t.emulator.sendText(user, chatId, text);
  return t.emulator.waitFor((m) => m.reply_to_message_id === messageId);
}
