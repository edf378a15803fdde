import type { Logger } from 'pino';
import { Telegraf, type Context } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { Engine } from '../engine/index.js';
import { COMMANDS } from './commands.js';
import type { CommandRouter } from './router.js';
import { escapeHtml, splitAtLines, TELEGRAM_MAX_CHARS } from './split.js';
import type { ChatUser, Reply } from './types.js';

/** What one attempt to post into a chat gave; the alert sender decides what to do next. */
export type SendOutcome = { ok: true } | { ok: false; retryAfterMs?: number; permanent?: boolean; reason: string };

export interface TelegramFrontOptions {
  token: string;
  /** A self-hosted Bot API server or an emulator; Telegram's own by default. */
  apiRoot?: string;
  router: CommandRouter;
  engine: Engine;
  opsChatId: string;
  /** Commands older than this (sent while the bot was down) are answered, not executed. */
  commandMaxAgeMs: number;
  logger: Logger;
}

const PRE_OVERHEAD = '<pre></pre>'.length;
const UPDATE_DEDUPE_MS = 24 * 3_600_000;

/**
 * The Telegram transport on telegraf: long polling, the same command router as the console, inline
 * Confirm/Cancel buttons, replies threaded to the command, long answers split at lines. A Bot API
 * failure is a transport problem, never an engine one, and its text is scrubbed of the token
 * before it is logged.
 */
export class TelegramFront {
  private readonly bot: Telegraf;
  private polling: Promise<void> | null = null;
  private readonly followUps = new Set<Promise<void>>();
  private accepting = true;

  constructor(private readonly options: TelegramFrontOptions) {
    this.bot = new Telegraf(options.token, {
      handlerTimeout: 60_000,
      ...(options.apiRoot ? { telegram: { apiRoot: options.apiRoot } } : {}),
    });
    this.bot.on('message', (ctx) => this.onMessage(ctx));
    this.bot.on('callback_query', (ctx) => this.onButton(ctx));
    this.bot.catch((err) => this.options.logger.error({ err: this.scrub(err) }, 'telegram handler failed'));
  }

  /** Checks the token, publishes the command menu and starts long polling; returns the bot's username. */
  async start(): Promise<string> {
    try {
      this.bot.botInfo = await this.bot.telegram.getMe();
      await this.bot.telegram.setMyCommands(COMMANDS.map((c) => ({ command: c.name, description: c.help.slice(0, 256) })));
    } catch (err) {
      throw new Error(`Telegram refused to start the bot: ${this.scrub(err)}`);
    }
    this.polling = this.bot.launch().catch((err: unknown) => this.options.logger.error({ err: this.scrub(err) }, 'telegram polling stopped'));
    return this.bot.botInfo.username;
  }

  get username(): string | undefined {
    return this.bot.botInfo?.username;
  }

  /** Stops taking updates, then waits for the outcomes already promised to chats. */
  async stop(): Promise<void> {
    this.accepting = false;
    if (this.polling) {
      this.bot.stop('shutdown');
      await this.polling;
    }
    while (this.followUps.size > 0) await Promise.allSettled([...this.followUps]);
  }

  /** Posts one alert into the ops chat, reporting how it went instead of throwing. */
  async sendToOps(text: string): Promise<SendOutcome> {
    try {
      await this.send(this.options.opsChatId, { text });
      return { ok: true };
    } catch (err) {
      return this.classify(err);
    }
  }

  private async onMessage(ctx: Context<Update.MessageUpdate>): Promise<void> {
    const message = ctx.message;
    if (!('text' in message) || !this.accepting) return;
    if (!(await this.options.engine.claimOnce(`tg-update:${ctx.update.update_id}`, UPDATE_DEDUPE_MS))) return;
    const chatId = String(message.chat.id);
    const isCommand = message.text.trim().startsWith('/');
    // In a group people talk to each other; only commands are for the bot.
    if (!isCommand && message.chat.type !== 'private') return;
    const ageMs = Date.now() - message.date * 1000;
    if (isCommand && ageMs > this.options.commandMaxAgeMs) {
      await this.send(chatId, { text: `⌛ This command arrived ${Math.round(ageMs / 1000)} s late (the bot was unreachable) and was not run; send it again if you still want it.` }, message.message_id);
      return;
    }
    const reply = await this.options.router.handleMessage({
      user: this.user(message.from),
      chatId,
      messageId: String(message.message_id),
      text: message.text,
    });
    if (reply) await this.send(chatId, reply, message.message_id);
  }

  private async onButton(ctx: Context<Update.CallbackQueryUpdate>): Promise<void> {
    const query = ctx.callbackQuery;
    if (!('data' in query) || !this.accepting) {
      await ctx.answerCbQuery();
      return;
    }
    if (!(await this.options.engine.claimOnce(`tg-callback:${query.id}`, UPDATE_DEDUPE_MS))) return;
    const chatId = String(query.message?.chat.id ?? query.from.id);
    const messageId = query.message?.message_id;
    const answer = await this.options.router.handleButton({ user: this.user(query.from), chatId, data: query.data });
    await ctx.answerCbQuery(answer.notice.slice(0, 200), { show_alert: !answer.spent });
    if (answer.spent && messageId !== undefined) {
      await ctx.telegram.editMessageReplyMarkup(chatId, messageId, undefined, { inline_keyboard: [] }).catch(() => undefined);
    }
    if (answer.reply) await this.send(chatId, answer.reply, messageId);
    if (answer.followUp) {
      const delivery = answer.followUp
        .then((reply) => this.send(chatId, reply, messageId))
        .catch((err: unknown) => this.options.logger.error({ err: this.scrub(err) }, 'could not deliver an outcome'))
        .finally(() => this.followUps.delete(delivery));
      this.followUps.add(delivery);
    }
  }

  /** Sends a reply, split at line boundaries, tables in <pre>, buttons on the last piece. */
  private async send(chatId: string, reply: Reply, replyTo?: number): Promise<void> {
    const limit = reply.monospace ? TELEGRAM_MAX_CHARS - PRE_OVERHEAD - 200 : TELEGRAM_MAX_CHARS;
    const pieces = splitAtLines(reply.text, limit);
    for (const [index, piece] of pieces.entries()) {
      const last = index === pieces.length - 1;
      await this.bot.telegram.sendMessage(chatId, reply.monospace ? `<pre>${escapeHtml(piece)}</pre>` : piece, {
        ...(reply.monospace ? { parse_mode: 'HTML' as const } : {}),
        ...(replyTo !== undefined && index === 0 ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
        ...(last && reply.buttons?.length
          ? { reply_markup: { inline_keyboard: [reply.buttons.map((b) => ({ text: b.label, callback_data: b.data }))] } }
          : {}),
      });
    }
  }

  private user(from: { id: number; first_name: string; last_name?: string; username?: string }): ChatUser {
    const name = from.username ? `@${from.username}` : [from.first_name, from.last_name].filter(Boolean).join(' ');
    // Cut by code points, never inside an emoji: half a surrogate pair is text no JSON reader should meet.
    return { userId: String(from.id), name: Array.from(name).slice(0, 64).join('') };
  }

  private classify(err: unknown): SendOutcome {
    const reason = this.scrub(err);
    const response = (err as { response?: { error_code?: number; parameters?: { retry_after?: number } } }).response;
    const code = response?.error_code;
    if (code === 429) return { ok: false, retryAfterMs: (response?.parameters?.retry_after ?? 1) * 1000, reason };
    // 400: Telegram cannot show this text (markup, length); retrying it would never help.
    if (code === 400) return { ok: false, permanent: true, reason };
    return { ok: false, reason };
  }

  /** An error's text with the bot token removed (network errors quote the request URL). */
  private scrub(err: unknown): string {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return text.split(this.options.token).join('<token>').replace(/bot\d+:[\w-]{20,}/g, 'bot<token>');
  }
}
