import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CommandRouter } from './router.js';
import type { Button, ChatUser, Reply } from './types.js';

export const CONSOLE_CHAT_ID = 'console';
export const CONSOLE_USER: ChatUser = { userId: 'local', name: 'operator' };

/**
 * The chat in a terminal: each stdin line is a message from the local operator; replies and
 * alerts print to stdout. Buttons print as `[Confirm] [Cancel]` and typing a label presses the
 * newest button with that label.
 */
export class ConsoleChat {
  private buttons: Button[] = [];
  private pending: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly router: CommandRouter,
    private readonly input: Readable,
    private readonly output: Writable,
  ) {}

  /** Prints a message (reply or alert) with its buttons. */
  print(reply: Reply): void {
    const buttons = reply.buttons?.length ? `\n${reply.buttons.map((b) => `[${b.label}]`).join(' ')}` : '';
    if (reply.buttons?.length) this.buttons = reply.buttons;
    this.output.write(`${reply.text}${buttons}\n\n`);
  }

  /** Reads stdin to its end, one line at a time in order; resolves when the last line is answered. */
  async run(): Promise<void> {
    const lines = createInterface({ input: this.input, crlfDelay: Infinity, terminal: false });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      this.pending = this.pending.then(() => this.handle(line));
      await this.pending;
    }
  }

  /** Stops taking commands (shutdown); lines still arriving get a short answer. */
  close(): void {
    this.closed = true;
  }

  private async handle(line: string): Promise<void> {
    const text = line.trim();
    if (this.closed) {
      this.print({ text: `The bot is stopping and takes no new commands; "${text.slice(0, 24)}" was not run.` });
      return;
    }
    const button = this.buttons.find((b) => b.label.toLowerCase() === text.toLowerCase());
    if (button) {
      const answer = await this.router.handleButton({ user: CONSOLE_USER, chatId: CONSOLE_CHAT_ID, data: button.data });
      if (answer.spent) this.buttons = [];
      this.print(answer.reply ?? { text: answer.notice });
      // The console waits for the outcome, so piped input reads like a conversation.
      if (answer.followUp) this.print(await answer.followUp);
      return;
    }
    if (/^(confirm|cancel)$/i.test(text)) {
      this.print({ text: 'There is nothing to confirm or cancel: send /open or /close first.' });
      return;
    }
    const reply = await this.router.handleMessage({ user: CONSOLE_USER, chatId: CONSOLE_CHAT_ID, text });
    if (reply) this.print(reply);
  }
}
