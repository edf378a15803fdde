import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A message the bot sent, as the emulator stored it. */
export interface SentMessage {
  message_id: number;
  chat_id: string;
  text: string;
  parse_mode?: string;
  reply_to_message_id?: number;
  buttons: { text: string; callback_data: string }[];
  /** Whether the bot later removed the inline keyboard. */
  buttonsRemoved: boolean;
  atMs: number;
}

export interface EmulatedUser {
  id: number;
  first_name: string;
  username?: string;
}

interface Fault {
  method: string;
  remaining: number;
  status: number;
  retryAfterSeconds?: number;
}

type Update = Record<string, unknown> & { update_id: number };

/**
 * A local Telegram Bot API: enough of getUpdates (long polling), sendMessage, callback queries,
 * message edits and command menus for real telegraf to talk to, plus the faults a real API
 * shows — 429 with retry_after, 5xx, and outages where connections are dropped.
 */
export class BotApiEmulator {
  readonly sent: SentMessage[] = [];
  readonly callbackAnswers: { callback_query_id: string; text?: string }[] = [];
  readonly calls: string[] = [];
  commands: { command: string; description: string }[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly updates: Update[] = [];
  private readonly pollers = new Set<() => void>();
  private readonly faults: Fault[] = [];
  private outageUntilMs = 0;
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly token: string,
    private readonly bot = { id: 777_000, username: 'arb_test_bot' },
  ) {}

  get apiRoot(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('emulator not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const wake of this.pollers) wake();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next `count` calls of `method` fail with `status` (429 carries retry_after). */
  failNext(method: string, count: number, status = 429, retryAfterSeconds = 1): void {
    this.faults.push({ method, remaining: count, status, retryAfterSeconds });
  }

  /** For `ms`, every connection is dropped without an answer, as when the Bot API is unreachable. */
  outage(ms: number): void {
    this.outageUntilMs = Date.now() + ms;
  }

  /** A user sends `text` in `chatId`; returns the update id. */
  sendText(user: EmulatedUser, chatId: number, text: string, options: { dateSeconds?: number } = {}): { updateId: number; messageId: number } {
    const messageId = this.nextMessageId++;
    const isCommand = text.startsWith('/');
    const commandLength = isCommand ? (text.split(/\s/)[0]?.length ?? 0) : 0;
    const update: Update = {
      update_id: this.nextUpdateId++,
      message: {
        message_id: messageId,
        from: { ...user, is_bot: false },
        chat: chatId < 0 ? { id: chatId, type: 'supergroup', title: 'ops' } : { id: chatId, type: 'private', first_name: user.first_name },
        date: options.dateSeconds ?? Math.floor(Date.now() / 1000),
        text,
        ...(isCommand ? { entities: [{ type: 'bot_command', offset: 0, length: commandLength }] } : {}),
      },
    };
    this.push(update);
    return { updateId: update.update_id, messageId };
  }

  /** Delivers an update again with the same id, as Telegram does after a failed acknowledgement. */
  redeliver(updateId: number): void {
    const update = this.delivered.get(updateId);
    if (!update) throw new Error(`update ${updateId} was never delivered`);
    this.updates.push(update);
    this.wakePollers();
  }

  /** A user presses an inline button of a message the bot sent. */
  press(user: EmulatedUser, message: SentMessage, label: string, overrideData?: string): string {
    const button = message.buttons.find((b) => b.text === label);
    const data = overrideData ?? button?.callback_data;
    if (data === undefined) throw new Error(`no button ${label} on message ${message.message_id}`);
    const id = `cb${this.nextUpdateId}`;
    this.push({
      update_id: this.nextUpdateId++,
      callback_query: {
        id,
        from: { ...user, is_bot: false },
        chat_instance: 'ci',
        data,
        message: {
          message_id: message.message_id,
          chat: { id: Number(message.chat_id), type: Number(message.chat_id) < 0 ? 'supergroup' : 'private' },
          date: Math.floor(message.atMs / 1000),
          text: message.text,
        },
      },
    });
    return id;
  }

  /** Resolves with the first sent message matching `predicate`, waiting up to `timeoutMs`. */
  async waitFor(predicate: (m: SentMessage) => boolean, timeoutMs = 10_000): Promise<SentMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.sent.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching message within ${timeoutMs} ms; sent so far:\n${this.sent.map((m) => `  [${m.chat_id}] ${m.text.slice(0, 120)}`).join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        setTimeout(wake, 50);
      });
    }
  }

  async waitForAnswer(callbackId: string, timeoutMs = 10_000): Promise<{ text?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.callbackAnswers.find((a) => a.callback_query_id === callbackId);
      if (answer) return answer;
      if (Date.now() > deadline) throw new Error(`callback ${callbackId} not answered within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  inChat(chatId: number | string): SentMessage[] {
    return this.sent.filter((m) => m.chat_id === String(chatId));
  }

  private readonly delivered = new Map<number, Update>();

  private push(update: Update): void {
    this.updates.push(update);
    this.wakePollers();
  }

  private wakePollers(): void {
    for (const wake of this.pollers) wake();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (Date.now() < this.outageUntilMs) {
      req.socket.destroy();
      return;
    }
    const match = /^\/bot([^/]+)\/(\w+)/.exec(req.url ?? '');
    const body = await readBody(req);
    if (!match || match[1] !== this.token) return reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = match[2] ?? '';
    this.calls.push(method);
    const fault = this.faults.find((f) => f.method === method && f.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      const parameters = fault.status === 429 ? { retry_after: fault.retryAfterSeconds } : undefined;
      return reply(res, fault.status, { ok: false, error_code: fault.status, description: fault.status === 429 ? `Too Many Requests: retry after ${fault.retryAfterSeconds}` : 'Bad Gateway', parameters });
    }
    switch (method) {
      case 'getMe':
        return ok(res, { id: this.bot.id, is_bot: true, first_name: 'Arb', username: this.bot.username });
      case 'deleteWebhook':
      case 'setWebhook':
        return ok(res, true);
      case 'setMyCommands':
        this.commands = (body.commands as { command: string; description: string }[] | undefined) ?? [];
        return ok(res, true);
      case 'getMyCommands':
        return ok(res, this.commands);
      case 'getUpdates':
        return ok(res, await this.getUpdates(body));
      case 'sendMessage':
        return ok(res, this.recordMessage(body));
      case 'answerCallbackQuery':
        this.callbackAnswers.push({ callback_query_id: String(body.callback_query_id), ...(typeof body.text === 'string' ? { text: body.text } : {}) });
        return ok(res, true);
      case 'editMessageReplyMarkup': {
        const message = this.sent.find((m) => m.message_id === Number(body.message_id) && m.chat_id === String(body.chat_id));
        if (message && !(body.reply_markup as { inline_keyboard?: unknown[] } | undefined)?.inline_keyboard?.length) message.buttonsRemoved = true;
        return ok(res, true);
      }
      default:
        return reply(res, 404, { ok: false, error_code: 404, description: `Not Found: method ${method} is not emulated` });
    }
  }

  private async getUpdates(body: Record<string, unknown>): Promise<Update[]> {
    // Updates leave the queue when delivered, so offsets need no bookkeeping; redeliver() puts
    // one back on purpose.
    if (this.updates.length === 0) {
      const timeoutMs = Math.min(Number(body.timeout ?? 0), 2) * 1000;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.pollers.delete(wake);
          resolve();
        };
        this.pollers.add(wake);
        setTimeout(wake, timeoutMs);
      });
    }
    const batch = this.updates.splice(0, Number(body.limit ?? 100));
    for (const update of batch) this.delivered.set(update.update_id, update);
    return batch;
  }

  private recordMessage(body: Record<string, unknown>): Record<string, unknown> {
    const markup = body.reply_markup as { inline_keyboard?: { text: string; callback_data: string }[][] } | undefined;
    const replyTo = (body.reply_parameters as { message_id?: number } | undefined)?.message_id ?? (body.reply_to_message_id as number | undefined);
    const message: SentMessage = {
      message_id: this.nextMessageId++,
      chat_id: String(body.chat_id),
      text: String(body.text ?? ''),
      ...(typeof body.parse_mode === 'string' ? { parse_mode: body.parse_mode } : {}),
      ...(replyTo !== undefined ? { reply_to_message_id: replyTo } : {}),
      buttons: markup?.inline_keyboard?.flat() ?? [],
      buttonsRemoved: false,
      atMs: Date.now(),
    };
    this.sent.push(message);
    for (const wake of this.waiters) wake();
    return { message_id: message.message_id, chat: { id: Number(message.chat_id), type: 'private' }, date: Math.floor(message.atMs / 1000), text: message.text };
  }
}

function ok(res: ServerResponse, result: unknown): void {
  reply(res, 200, { ok: true, result });
}

function reply(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(payload));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}
