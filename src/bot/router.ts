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
  /** Runs a confirmed operation (through the operations queue); by default, in this process. */
  runOperation?: (operationId: string, by: Requester) => Promise<unknown>;
}

/**
 * Parses, authorizes and dispatches every entry — typed commands and button presses alike — and
 * turns any failure into a one-line answer. No trading logic lives here.
 */
export class CommandRouter {
  private readonly byName = new Map(COMMANDS.map((c) => [c.name, c]));

  constructor(private readonly options: RouterOptions) {}

  /** Learned at start from the Bot API (getMe). */
  setBotUsername(username: string | undefined): void {
    if (username) this.options.botUsername = username;
  }

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
    const denied = await this.authorize(press.user, requester, 'trader', `button ${echo(action ?? '?')}`);
    if (denied) return { notice: denied, spent: false };
    if ((action !== 'confirm' && action !== 'cancel') || !operationId || !/^op[a-z0-9]{6,30}$/.test(operationId)) {
      return { notice: 'This button is not valid.', spent: true };
    }
    const { engine } = this.options;
    const op = await engine.getOperation(operationId);
    if (!op) return { notice: 'This preview no longer exists.', spent: true };
    const role = this.options.roles(press.user.userId);
    const isAdmin = role === 'admin';
    if (op.kind === 'mode' && !isAdmin) {
      await engine.audit(requester, `${action} ${op.id}`, 'refused: mode changes need an admin');
      return { notice: 'Only an admin can confirm a mode change.', spent: false };
    }
    if (op.requestedBy.userId !== press.user.userId && !isAdmin) {
      await engine.audit(requester, `${action} ${op.id}`, `refused: requested by ${op.requestedBy.name}`);
      return { notice: `Only ${op.requestedBy.name} (who asked) or an admin can ${action} this.`, spent: false };
    }
    const label = op.kind === 'mode' ? `mode → ${op.targetMode ?? '?'}` : `${op.kind} ${op.coin}`;
    const log = this.options.logger.child({ operationId, userId: press.user.userId, action });
    if (action === 'cancel') {
      try {
        await engine.cancel(operationId, requester);
        return { notice: 'Cancelled.', spent: true, reply: { text: `Cancelled ${label} (op ${op.id}) by ${requester.name}. Nothing was placed.` } };
      } catch (err) {
        return { notice: this.explain(err, log).slice(0, 190), spent: true };
      }
    }
    // A double tap or a re-delivered press: only the first one starts the operation.
    if (op.state !== 'requested' || !(await engine.claimOnce(`press:${op.id}`, 24 * 3_600_000))) {
      const current = (await engine.getOperation(operationId)) ?? op;
      return { notice: `Already ${current.state === 'requested' ? 'confirmed' : current.state.replace('_', ' ')}.`, spent: true, reply: { text: `${label} (op ${op.id}) is already ${current.state === 'requested' ? 'confirmed and running' : current.state.replace('_', ' ')}; it runs once.` } };
    }
    const run = this.options.runOperation ?? ((id, by) => engine.confirm(id, by).then(() => undefined));
    const followUp = run(operationId, requester).then(
      () => this.outcome(operationId, label, requester),
      async (err: unknown) => {
        const latest = await engine.getOperation(operationId);
        if (latest && (latest.state === 'confirmed' || latest.state === 'placing')) {
          return { text: `⏳ ${label} (op ${op.id}) is still running; its outcome will be posted in the ops chat.` };
        }
        // Through the queue the engine's refusal arrives as the job's failure text.
        const text = err instanceof BotError || !(err instanceof Error) ? this.explain(err, log) : err.message;
        return { text: `❌ ${label} (op ${op.id}, asked by ${op.requestedBy.name}): ${text}` };
      },
    );
    return {
      notice: op.kind === 'mode' ? 'Confirmed.' : 'Confirmed; placing both legs…',
      spent: true,
      reply: { text: `⏳ ${label} confirmed by ${requester.name} (op ${op.id})${op.kind === 'mode' ? '' : '; placing both legs…'}` },
      followUp,
    };
  }

  private async outcome(operationId: string, label: string, by: Requester): Promise<Reply> {
    const op = await this.options.engine.getOperation(operationId);
    if (!op) return { text: `${label} (op ${operationId}): no record of the outcome; check /status` };
    const asked = `op ${op.id}, asked by ${op.requestedBy.name}, confirmed by ${by.name}`;
    switch (op.state) {
      case 'open':
        return { text: `✅ ${op.coin} hedge ${op.positionId ?? ''} opened (${asked}).` };
      case 'closed':
        return { text: `✅ ${op.coin} hedge ${op.positionId ?? ''} closed (${asked}).` };
      case 'done':
        return { text: `✅ Mode switched to ${(op.targetMode ?? '?').toUpperCase()} (${asked}).` };
      default:
        return { text: `❌ ${label} ended ${op.state.replace('_', ' ')} (${asked}): ${op.errorMessage ?? 'see the alerts'}` };
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
