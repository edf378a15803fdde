import { InvalidInputError, type Engine, type Requester } from '../engine/index.js';
import { MUTABLE_ALERTS, activeMutes, setMute, type MutableAlert } from './alerts.js';
import { formatAudit, formatClosePreview, formatFunding, formatOpenPreview, formatPnl, formatResumed, formatStatus } from './format.js';
import { echo, parseCount, parseUsdAmount } from './parse.js';
import type { Reply, Role } from './types.js';

export interface CommandContext {
  engine: Engine;
  requester: Requester;
  args: string[];
  settings: { quoteTtlMs: number; fundingHoldDays: number };
}

export interface Command {
  name: string;
  /** Least role allowed; a function when the role depends on the arguments (e.g. /mode live). */
  role: Role | ((args: readonly string[]) => Role);
  usage: string;
  help: string;
  run(ctx: CommandContext): Promise<Reply>;
}

const confirmButtons = (operationId: string): Reply['buttons'] => [
  { label: 'Confirm', data: `confirm:${operationId}` },
  { label: 'Cancel', data: `cancel:${operationId}` },
];

function expectArgs(args: readonly string[], max: number, usage: string): void {
  if (args.length > max) throw new InvalidInputError(`too many arguments. Usage: ${usage}`);
}

/** The one table of commands: dispatch, /help and the Bot API menu all come from it. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'open',
    role: 'trader',
    usage: '/open <COIN> <USD per leg>',
    help: 'preview a hedge: buy spot and short the perp of COIN, USD notional per leg',
    async run({ engine, requester, args, settings }) {
      const usage = this.usage;
      expectArgs(args, 2, usage);
      const [coin, amount] = args;
      if (!coin) throw new InvalidInputError(`missing the coin and amount. Usage: ${usage}, e.g. /open BTC 1000`);
      const notional = parseUsdAmount(amount, usage);
      const preview = await engine.previewOpen(coin, notional, requester);
      return { text: formatOpenPreview(preview, settings.quoteTtlMs / 1000), buttons: confirmButtons(preview.operation.id) };
    },
  },
  {
    name: 'close',
    role: 'trader',
    usage: '/close <COIN | position id>',
    help: 'preview closing both legs of a hedge',
    async run({ engine, requester, args, settings }) {
      expectArgs(args, 1, this.usage);
      const [target] = args;
      if (!target) throw new InvalidInputError(`missing which hedge to close. Usage: ${this.usage}, e.g. /close BTC`);
      const preview = await engine.previewClose(target, requester);
      return { text: formatClosePreview(preview, settings.quoteTtlMs / 1000), buttons: confirmButtons(preview.operation.id) };
    },
  },
  {
    name: 'status',
    role: 'viewer',
    usage: '/status',
    help: 'mode, balances, and every open hedge with drift, funding and PnL',
    async run({ engine, args }) {
      expectArgs(args, 0, this.usage);
      return { text: formatStatus(await engine.status()), monospace: true };
    },
  },
  {
    name: 'mode',
    role: (args) => (args.length > 0 ? 'admin' : 'viewer'),
    usage: '/mode [paper|live]',
    help: 'show the trading mode, or switch it (admin, only when flat; live needs a confirmation)',
    async run({ engine, requester, args }) {
      expectArgs(args, 1, this.usage);
      const [wanted] = args;
      const current = await engine.currentMode();
      if (!wanted) {
        const live = engine.liveConfigured() ? 'live is configured' : 'live is not configured';
        return { text: `Mode: ${current.toUpperCase()} (${live}). Switch with /mode paper or /mode live when flat.` };
      }
      const mode = wanted.toLowerCase();
      if (mode !== 'paper' && mode !== 'live') throw new InvalidInputError(`unknown mode "${echo(wanted)}". Usage: ${this.usage}`);
      if (mode === 'paper') {
        await engine.setMode(mode, requester);
        return { text: `Mode switched to PAPER by ${requester.name}.` };
      }
      const op = await engine.previewMode(mode, requester);
      return {
        text: `Switch to LIVE trading with real money (asked by ${requester.name}, op ${op.id})? An admin must confirm within 60 s.`,
        buttons: confirmButtons(op.id),
      };
    },
  },
  {
    name: 'pnl',
    role: 'viewer',
    usage: '/pnl',
    help: 'realised, funding, fees and unrealised PnL per hedge and in total',
    async run({ engine, args }) {
      expectArgs(args, 0, this.usage);
      return { text: formatPnl(await engine.pnl()), monospace: true };
    },
  },
  {
    name: 'audit',
    role: 'viewer',
    usage: '/audit [N]',
    help: 'who did what, when and from which chat (newest first)',
    async run({ engine, args }) {
      expectArgs(args, 1, this.usage);
      const count = parseCount(args[0], 10, 50, this.usage);
      return { text: formatAudit(await engine.recentAudit(count)) };
    },
  },
  {
    name: 'mute',
    role: 'admin',
    usage: `/mute <${MUTABLE_ALERTS.join('|')}> <minutes>`,
    help: 'silence routine alerts of one type for a while (critical alerts cannot be muted)',
    async run({ engine, requester, args }) {
      expectArgs(args, 2, this.usage);
      const [type, minutesText] = args;
      if (!type) throw new InvalidInputError(`missing the alert type. Usage: ${this.usage}`);
      if (!MUTABLE_ALERTS.includes(type.toLowerCase() as MutableAlert)) {
        throw new InvalidInputError(`"${echo(type)}" cannot be muted; mutable types: ${MUTABLE_ALERTS.join(', ')} (rollback, drift, recovery and error alerts always go out)`);
      }
      const minutes = parseCount(minutesText, 60, 1440, this.usage);
      await setMute(engine, type.toLowerCase() as MutableAlert, Date.now() + minutes * 60_000);
      await engine.audit(requester, `mute ${type} ${minutes} min`, 'muted');
      return { text: `${type.toLowerCase()} alerts muted for ${minutes} min by ${requester.name}. /unmute ${type.toLowerCase()} ends it.` };
    },
  },
  {
    name: 'unmute',
    role: 'admin',
    usage: '/unmute [type]',
    help: 'end a mute (all mutes without a type)',
    async run({ engine, requester, args }) {
      expectArgs(args, 1, this.usage);
      const mutes = await activeMutes(engine);
      const types = args[0] ? [args[0].toLowerCase()] : Object.keys(mutes);
      if (types.length === 0 || !types.every((t) => t in mutes)) {
        const active = Object.keys(mutes);
        return { text: `Nothing to unmute${args[0] ? ` for "${echo(args[0])}"` : ''}; muted now: ${active.length ? active.join(', ') : 'none'}.` };
      }
      for (const type of types) await setMute(engine, type as MutableAlert, null);
      await engine.audit(requester, `unmute ${types.join(',')}`, 'unmuted');
      return { text: `Unmuted ${types.join(', ')} (by ${requester.name}).` };
    },
  },
  {
    name: 'funding',
    role: 'viewer',
    usage: '/funding [N]',
    help: 'top N coins by funding APR net of fees, with interval and break-even hours',
    async run({ engine, args, settings }) {
      expectArgs(args, 1, this.usage);
      const count = parseCount(args[0], 10, 50, this.usage);
      return { text: formatFunding(await engine.topFunding(count), settings.fundingHoldDays), monospace: true };
    },
  },
  {
    name: 'resume',
    role: 'admin',
    usage: '/resume',
    help: 'accept what the venue holds beyond the hedges (after checking it) and allow opens of those coins again',
    async run({ engine, requester, args }) {
      expectArgs(args, 0, this.usage);
      return { text: formatResumed(await engine.resumeTrading(requester), requester.name) };
    },
  },
  {
    name: 'help',
    role: 'viewer',
    usage: '/help',
    help: 'this list',
    run() {
      const lines = COMMANDS.map((c) => `${c.usage} - ${c.help}`);
      return Promise.resolve({ text: ['Commands:', ...lines, 'Previews answer with [Confirm] [Cancel]; only the requester (or an admin) may confirm.'].join('\n') });
    },
  },
];
