import type { Logger } from 'pino';
import { BotError, type Engine, type Requester } from '../engine/index.js';
import { COMMANDS, type Command, type CommandContext } from './commands.js';
import { echo } from './parse.js';
import { ROLE_RANK, type ButtonAnswer, type ButtonPress, type ChatUser, type IncomingMessage, type Reply, type Role, type RoleResolver } from './types.js';

const MAX_INPUT_CHARS = 512;

export interface RouterOptions {
  engine: Engine;
  roles: RoleResolver;
  logger: Logger;
  settings: CommandContext['settings'];
  /** The bot's username, so `/status@thisbot` is ours and `/status@otherbot` is ignored. */
  botUsername?: string;
}

/**
 * Parses, authorizes and dispatches every entry — typed commands and button presses alike — and
 * turns any failure into a one-line answer. No trading logic lives here.
 */
export class CommandRouter {
  private readonly byName = new Map(COMMANDS.map((c) => [c.name, c]));

  constructor(private readonly options: RouterOptions) {}

  /** Answers one message; null when the message is not for this bot (another bot's command). */
  async handleMessage(message: IncomingMessage): Promise<Reply | null> {
    const text = message.text.trim();
    if (text.length > MAX_INPUT_CHARS) return { text: `That message is too long (${text.length} characters); commands are short, see /help.` };
    if (!text.startsWith('/')) return { text: `I only understand commands; "${echo(text)}" is not one. Send /help for the list.` };
    const [head = '', ...args] = text.split(/\s+/);
    const [rawName = '', mention] = head.slice(1).split('@');
    if (mention && this.options.botUsername && mention.toLowerCase() !== this.options.botUsername.toLowerCase()) return null;
    const name = rawName.toLowerCase();
    const command = this.byName.get(name);
    if (!command) return { text: `Unknown command /${echo(rawName)}. Send /help for the list.` };
    const requester = this.requester(message.user, message.chatId, message.messageId);
    const needed = typeof command.role === 'function' ? command.role(args) : command.role;
    const denied = await this.authorize(message.user, requester, needed, `/${name}`);
    if (denied) return { text: denied };
    const log = this.options.logger.child({ chatId: message.chatId, userId: message.user.userId, command: name });
    try {
      return await command.run({ engine: this.options.engine, requester, args, settings: this.options.settings });
    } catch (err) {
      return { text: this.explain(err, log, command) };
    }
  }

  /** A press on Confirm or Cancel: the same authorization as commands, plus "only the requester". */
  async handleButton(press: ButtonPress): Promise<ButtonAnswer> {
    const [action, operationId] = press.data.split(':');
    const requester = this.requester(press.user, press.chatId);
    const denied = await this.authorize(press.user, requester, 'trader', `button ${action ?? '?'}`);
    if (denied) return { notice: denied, spent: false };
    if ((action !== 'confirm' && action !== 'cancel') || !operationId) return { notice: 'This button is not valid any more.', spent: true };
    const { engine } = this.options;
    const op = await engine.getOperation(operationId);
    if (!op) return { notice: 'This preview no longer exists.', spent: true };
    const role = this.options.roles(press.user.userId);
    if (op.requestedBy.userId !== press.user.userId && role !== 'admin') {
      await engine.audit(requester, `${action} ${op.id}`, `refused: requested by ${op.requestedBy.name}`);
      return { notice: `Only ${op.requestedBy.name} (who asked) or an admin can ${action} this.`, spent: false };
    }
    const log = this.options.logger.child({ operationId, userId: press.user.userId, action });
    try {
      if (action === 'cancel') {
        await engine.cancel(operationId, requester);
        return { notice: 'Cancelled.', spent: true, reply: { text: `Cancelled ${op.kind} ${op.coin} (op ${op.id}) by ${requester.name}. Nothing was placed.` } };
      }
      const { position } = await engine.confirm(operationId, requester);
      const verb = op.kind === 'open' ? 'opened' : 'closed';
      return {
        notice: 'Confirmed.',
        spent: true,
        reply: { text: `Done: ${op.coin} hedge ${position.id} ${verb} (op ${op.id}, confirmed by ${requester.name}).` },
      };
    } catch (err) {
      const text = this.explain(err, log);
      return { notice: text.slice(0, 190), spent: true, reply: { text: `${op.kind} ${op.coin} (op ${op.id}, asked by ${op.requestedBy.name}): ${text}` } };
    }
  }

  private requester(user: ChatUser, chatId: string, messageId?: string): Requester {
    return { userId: user.userId, name: user.name, chatId, ...(messageId ? { messageId } : {}) };
  }

  /** Returns a refusal (and audits it) when the user's role is below `needed`; null if allowed. */
  private async authorize(user: ChatUser, requester: Requester, needed: Role, what: string): Promise<string | null> {
    const role = this.options.roles(user.userId);
    if (role && ROLE_RANK[role] >= ROLE_RANK[needed]) return null;
    const refusal = role ? `${what} needs the ${needed} role; you are ${role}.` : `You are not authorized to use this bot.`;
    await this.options.engine.audit(requester, what, `refused: ${role ?? 'stranger'}`);
    return refusal;
  }

  private explain(err: unknown, log: Logger, command?: Command): string {
    if (err instanceof BotError && err.reaction !== 'alert') {
      const message = err.message.charAt(0).toUpperCase() + err.message.slice(1);
      return command && err.code === 'INVALID_INPUT' && !message.includes('Usage') ? `${message}. Usage: ${command.usage}` : message;
    }
    if (err instanceof BotError) return `${err.code}: ${err.message}`;
    log.error({ err }, 'command failed');
    return 'Something went wrong on our side and it was logged; check /status before trying again.';
  }
}
