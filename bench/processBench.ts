import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPrefix } from './engineBench.js';

const ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), '..');
const READY_LINE = /Type \/help for commands/;
const STATUS_REPLY = /^Mode PAPER/m;

/** All the child inherits: any app setting in the bench's own environment would change what it measures. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'NODE_EXTRA_CA_CERTS'];

/** `node --import tsx src/main.ts` (what `npm start` runs, without npm in between): paper, simulated market, console chat. */
function spawnBot(redisUrl: string): { child: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => INHERITED.includes(key)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...env, REDIS_URL: redisUrl, REDIS_PREFIX: freshPrefix('p'), LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  return { child, output: () => `${stdout}\n--- stderr\n${stderr}`, exited };
}

/** Resolves, as soon as the child's stdout matches, with the ms since `startMs`. */
async function waitForStdout(child: ChildProcessWithoutNullStreams, pattern: RegExp, startMs: number, output: () => string, timeoutMs = 30_000): Promise<number> {
  let seen = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdout.off('data', onData);
      reject(new Error(`bench: no ${String(pattern)} within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    function onData(chunk: Buffer): void {
      seen += chunk.toString();
      if (!pattern.test(seen)) return;
      const elapsed = performance.now() - startMs;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve(elapsed);
    }
    child.stdout.on('data', onData);
  });
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error(`bench: no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

export interface RssSample {
  rssMb: number;
  peakMb: number;
  readyMs: number;
}

/** Resident memory of the started bot: read as soon as it printed its ready line, stdin still open. */
export async function measureRss(redisUrl: string): Promise<RssSample> {
  const start = performance.now();
  const bot = spawnBot(redisUrl);
  const pid = bot.child.pid;
  if (pid === undefined) throw new Error('bench: the bot did not start');
  const readyMs = await waitForStdout(bot.child, READY_LINE, start, bot.output);
  const sample = { rssMb: procStatusKb(pid, 'VmRSS') / 1024, peakMb: procStatusKb(pid, 'VmHWM') / 1024, readyMs };
  bot.child.stdin.end();
  const code = await bot.exited;
  if (code !== 0) throw new Error(`bench: the bot exited ${code}:\n${bot.output()}`);
  return sample;
}

export interface ColdStartSample {
  answeredMs: number;
  readyMs: number;
}

/** From spawning the process to the /status reply on stdout, /status piped in from the start. */
export async function measureColdStart(redisUrl: string): Promise<ColdStartSample> {
  const start = performance.now();
  const bot = spawnBot(redisUrl);
  const ready = waitForStdout(bot.child, READY_LINE, start, bot.output);
  const answered = waitForStdout(bot.child, STATUS_REPLY, start, bot.output);
  bot.child.stdin.end('/status\n');
  const sample = { answeredMs: await answered, readyMs: await ready };
  const code = await bot.exited;
  if (code !== 0) throw new Error(`bench: the bot exited ${code}:\n${bot.output()}`);
  return sample;
}
