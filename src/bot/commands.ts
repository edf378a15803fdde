import { InvalidInputError, type Engine, type Requester } from '../engine/index.js';
import { formatClosePreview, formatFunding, formatOpenPreview, formatStatus } from './format.js';
import { parseCount, parseUsdAmount } from './parse.js';
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
      return { text: formatStatus(await engine.status()) };
    },
  },
  {
    name: 'mode',
    role: (args) => (args.length > 0 ? 'admin' : 'viewer'),
    usage: '/mode [paper|live]',
    help: 'show the trading mode, or switch it (admin, only when flat)',
    async run({ engine, requester, args }) {
      expectArgs(args, 1, this.usage);
      const [wanted] = args;
      if (!wanted) {
        const live = engine.liveConfigured() ? 'live is configured' : 'live is not configured';
        return { text: `Mode: ${engine.currentMode().toUpperCase()} (${live}). Switch with /mode paper or /mode live when flat.` };
      }
      const mode = wanted.toLowerCase();
      if (mode !== 'paper' && mode !== 'live') throw new InvalidInputError(`unknown mode "${wanted.slice(0, 12)}". Usage: ${this.usage}`);
      await engine.setMode(mode, requester);
      return { text: `Mode switched to ${mode.toUpperCase()} by ${requester.name}.` };
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
      return { text: formatFunding(await engine.topFunding(count), settings.fundingHoldDays) };
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
