import { Redis, type ChainableCommander } from 'ioredis';
import {
  FINISHED_STATES,
  type AuditEntry,
  type OperationState,
  type LedgerEntry,
  type Operation,
  type OrderResult,
  type Position,
  type TradingMode,
} from '../domain/types.js';
import { decode, encode } from './codec.js';
import { AUDIT_LIMIT, type AdvanceResult, type ModeState, type Store, type SwitchResult } from './port.js';

/** Reconnect and retry settings shared by the engine's own Redis clients. */
export const STORE_RETRY = { maxRetriesPerRequest: 30, retryStrategy: (attempt: number): number => Math.min(attempt * 100, 1_000) };

// KEYS: fills hash, ledger list, ledger id set. ARGV: clientOrderId, fill, then id/entry pairs.
const RECORD_FILL_LUA = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return redis.call('HGET', KEYS[1], ARGV[1])
end
for i = 3, #ARGV, 2 do
  redis.call('RPUSH', KEYS[2], ARGV[i + 1])
  redis.call('SADD', KEYS[3], ARGV[i])
end
return false
`;

// KEYS: ledger list, ledger id set. ARGV: id/entry pairs.
const APPEND_LEDGER_LUA = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  return 0
end
for i = 1, #ARGV, 2 do
  redis.call('RPUSH', KEYS[1], ARGV[i + 1])
  redis.call('SADD', KEYS[2], ARGV[i])
end
return 1
`;

// KEYS: sorted index, hash. The records the index lists, in its order, in one round trip
// (HMGET in slices, as Lua's unpack takes a few thousand values at most).
const READ_LISTED_LUA = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local texts = {}
for first = 1, #ids, 1000 do
  local slice = redis.call('HMGET', KEYS[2], unpack(ids, first, math.min(first + 999, #ids)))
  for i = 1, #slice do
    texts[#texts + 1] = slice[i]
  end
end
return texts
`;

// An operation's state, from the states hash beside the records (no JSON decoding in Lua: a
// record can hold text cjson refuses, such as a name cut inside an emoji). Records written before
// the hash existed are decoded, and one that cannot be decoded has no state.
const STATE_OF_LUA = `
local function stateOf(states, records, id)
  local state = redis.call('HGET', states, id)
  if state then return state end
  local text = redis.call('HGET', records, id)
  if not text then return '' end
  local ok, record = pcall(cjson.decode, text)
  if ok and type(record) == 'table' and type(record.state) == 'string' then return record.state end
  return ''
end
`;

// Compare-and-set of an operation (and, with a position id, the position in the same step).
// KEYS: operations, unfinished index, mode epoch, positions, all-positions index, open index,
//       closed-awaiting-funding index, operation states.
// ARGV: id, expected state, operation, finished (1/0), created at, expected epoch ('' = any),
//       position id ('' = none), position, opened at, position's index (open/awaiting/done), new state.
const ADVANCE_OPERATION_LUA = `${STATE_OF_LUA}
local current = stateOf(KEYS[8], KEYS[1], ARGV[1])
if current ~= ARGV[2] then return {'state', current} end
if ARGV[6] ~= '' then
  local epoch = redis.call('GET', KEYS[3]) or '0'
  if epoch ~= ARGV[6] then return {'mode', epoch} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[8], ARGV[1], ARGV[11])
if ARGV[4] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1]) end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[7], ARGV[8])
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[7])
  if ARGV[10] == 'open' then redis.call('ZADD', KEYS[6], ARGV[9], ARGV[7]) else redis.call('ZREM', KEYS[6], ARGV[7]) end
  if ARGV[10] == 'awaiting' then redis.call('ZADD', KEYS[7], ARGV[9], ARGV[7]) else redis.call('ZREM', KEYS[7], ARGV[7]) end
end
return {'ok'}
`;

// Switches the mode only when flat. KEYS: open positions index, unfinished index, operations,
// mode, mode epoch, operation states. ARGV: mode, the switch's own operation id ('' = none).
const SWITCH_MODE_LUA = `${STATE_OF_LUA}
if ARGV[2] ~= '' and stateOf(KEYS[6], KEYS[3], ARGV[2]) ~= 'confirmed' then return {-1, 0, 0} end
local open = redis.call('ZCARD', KEYS[1])
local busy = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if id ~= ARGV[2] and stateOf(KEYS[6], KEYS[3], id) ~= 'requested' then busy = busy + 1 end
end
if open > 0 or busy > 0 then return {0, open, busy} end
redis.call('SET', KEYS[4], ARGV[1])
return {1, redis.call('INCR', KEYS[5])}
`;

/** The Lua commands defined on the client; ioredis sends them by EVALSHA. */
interface StoreScripts {
  storeAdvanceOperation(...keysThenArgs: string[]): Promise<string[]>;
  storeSwitchMode(...keysThenArgs: string[]): Promise<number[]>;
  storeReadListed(index: string, hash: string): Promise<(string | null)[]>;
  storeRecordFill(fills: string, ledger: string, ledgerIds: string, ...args: string[]): Promise<string | null>;
  storeAppendLedger(ledger: string, ledgerIds: string, ...args: string[]): Promise<number>;
}

/**
 * Store on Redis. Records are JSON (amounts as decimal strings, see codec.ts) in hashes keyed by
 * id; sorted sets keep listing order; the ledger is a list with a set of its ids beside it.
 */
export class RedisStore implements Store {
  private readonly keys: ReturnType<typeof keysFor>;
  private readonly scripts: StoreScripts;
  private ownsClient = false;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = keysFor(prefix);
    redis.defineCommand('storeRecordFill', { lua: RECORD_FILL_LUA, numberOfKeys: 3 });
    redis.defineCommand('storeAppendLedger', { lua: APPEND_LEDGER_LUA, numberOfKeys: 2 });
    redis.defineCommand('storeReadListed', { lua: READ_LISTED_LUA, numberOfKeys: 2 });
    redis.defineCommand('storeAdvanceOperation', { lua: ADVANCE_OPERATION_LUA, numberOfKeys: 8 });
    redis.defineCommand('storeSwitchMode', { lua: SWITCH_MODE_LUA, numberOfKeys: 6 });
    this.scripts = redis as unknown as StoreScripts;
  }

  /** Connects a client of its own, which close() quits. */
  static async connect(url: string, prefix: string): Promise<RedisStore> {
    // Commands wait through a Redis restart of up to ~30 s (reconnecting every second at most)
    // instead of failing half-way through an operation; past that they fail loudly.
    const redis = new Redis(url, { lazyConnect: true, enableAutoPipelining: true, ...STORE_RETRY });
    // connect() only says "Connection is closed"; the error event carries the reason (e.g. ECONNREFUSED).
    let cause: unknown;
    const remember = (err: unknown): void => {
      cause = err;
    };
    redis.on('error', remember);
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw cause ?? err;
    } finally {
      redis.off('error', remember);
    }
    // While reconnecting, ioredis reports each failed attempt; the commands themselves fail if
    // Redis stays away, so the attempts need no further handling.
    redis.on('error', () => undefined);
    const store = new RedisStore(redis, prefix);
    store.ownsClient = true;
    await store.backfillStates();
    return store;
  }

  async putOperation(op: Operation): Promise<void> {
    await execOrThrow(this.writeOperation(this.redis.multi(), op));
  }

  async getOperation(id: string): Promise<Operation | null> {
    return this.readOne<Operation>(this.keys.operations, id);
  }

  async listUnfinishedOperations(): Promise<Operation[]> {
    return this.readListed<Operation>(this.keys.operations, this.keys.unfinishedOperations);
  }

  async putPosition(position: Position): Promise<void> {
    await execOrThrow(this.writePosition(this.redis.multi(), position));
  }

  async advanceOperation(op: Operation, from: OperationState, options: { position?: Position; modeEpoch?: number } = {}): Promise<AdvanceResult> {
    const k = this.keys;
    const { position } = options;
    const answer = await this.scripts.storeAdvanceOperation(
      k.operations,
      k.unfinishedOperations,
      k.modeEpoch,
      k.positions,
      k.allPositions,
      k.openPositions,
      k.positionsAwaitingFunding,
      k.operationStates,
      op.id,
      from,
      encode(op),
      FINISHED_STATES.has(op.state) ? '1' : '0',
      String(op.createdAtMs),
      options.modeEpoch === undefined ? '' : String(options.modeEpoch),
      position?.id ?? '',
      position ? encode(position) : '',
      String(position?.openedAtMs ?? 0),
      !position ? '' : position.status === 'open' ? 'open' : position.fundingComplete ? 'done' : 'awaiting',
      op.state,
    );
    if (answer[0] === 'ok') return { ok: true };
    if (answer[0] === 'mode') return { ok: false, reason: 'mode', epoch: Number(answer[1]) };
    return { ok: false, reason: 'state', current: answer[1] ? (answer[1] as OperationState) : null };
  }

  async getPosition(id: string): Promise<Position | null> {
    return this.readOne<Position>(this.keys.positions, id);
  }

  async listOpenPositions(): Promise<Position[]> {
    return this.readListed<Position>(this.keys.positions, this.keys.openPositions);
  }

  async listPositions(): Promise<Position[]> {
    return this.readListed<Position>(this.keys.positions, this.keys.allPositions);
  }

  async listClosedPositionsAwaitingFunding(): Promise<Position[]> {
    return this.readListed<Position>(this.keys.positions, this.keys.positionsAwaitingFunding);
  }

  async recordFill(fill: OrderResult, entries: LedgerEntry[]): Promise<OrderResult | null> {
    const { fills, ledger, ledgerIds } = this.keys;
    const existing = await this.scripts.storeRecordFill(
      fills,
      ledger,
      ledgerIds,
      fill.clientOrderId,
      encode(fill),
      ...idEntryPairs(entries),
    );
    return existing === null ? null : decode<OrderResult>(existing);
  }

  async getFill(clientOrderId: string): Promise<OrderResult | null> {
    return this.readOne<OrderResult>(this.keys.fills, clientOrderId);
  }

  async appendLedger(entries: LedgerEntry[]): Promise<boolean> {
    if (entries.length === 0) return false;
    const written = await this.scripts.storeAppendLedger(this.keys.ledger, this.keys.ledgerIds, ...idEntryPairs(entries));
    return written === 1;
  }

  async listLedger(fromIndex = 0): Promise<LedgerEntry[]> {
    const texts = await this.redis.lrange(this.keys.ledger, fromIndex, -1);
    return texts.map((text) => decode<LedgerEntry>(text));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await execOrThrow(
      this.redis
        .multi()
        .lpush(this.keys.audit, encode(entry))
        .ltrim(this.keys.audit, 0, AUDIT_LIMIT - 1),
    );
  }

  async recentAudit(limit: number): Promise<AuditEntry[]> {
    const count = Math.floor(limit);
    // LRANGE 0 -1 would mean "everything", so a non-positive limit never reaches Redis.
    if (count <= 0) return [];
    const texts = await this.redis.lrange(this.keys.audit, 0, count - 1);
    return texts.map((text) => decode<AuditEntry>(text));
  }

  async getMode(): Promise<TradingMode | null> {
    return (await this.redis.get(this.keys.mode)) as TradingMode | null;
  }

  async getModeState(): Promise<ModeState> {
    const [mode, epoch] = await this.redis.mget(this.keys.mode, this.keys.modeEpoch);
    return { mode: (mode ?? null) as TradingMode | null, epoch: Number(epoch ?? 0) };
  }

  async setMode(mode: TradingMode): Promise<void> {
    await execOrThrow(this.redis.multi().set(this.keys.mode, mode).incr(this.keys.modeEpoch));
  }

  async switchMode(mode: TradingMode, exceptOperationId: string): Promise<SwitchResult> {
    const k = this.keys;
    const [switched = 0, a = 0, b = 0] = await this.scripts.storeSwitchMode(k.openPositions, k.unfinishedOperations, k.operations, k.mode, k.modeEpoch, k.operationStates, mode, exceptOperationId);
    if (switched === -1) return { switched: false, lost: true };
    return switched === 1 ? { switched: true, epoch: a } : { switched: false, openPositions: a, busyOperations: b };
  }

  async putValue(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const name = `${this.keys.values}${key}`;
    if (ttlMs) await this.redis.set(name, encode(value), 'PX', ttlMs);
    else await this.redis.set(name, encode(value));
  }

  async getValue<T>(key: string): Promise<T | null> {
    const text = await this.redis.get(`${this.keys.values}${key}`);
    return text === null ? null : decode<T>(text);
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.keys.claims}${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }

  /**
   * Unfinished operations written before the states hash existed get their state there, read by
   * JavaScript (which reads any record it wrote), so the Lua scripts never have to decode them.
   */
  private async backfillStates(): Promise<void> {
    const ids = await this.redis.zrange(this.keys.unfinishedOperations, '0', '-1');
    if (ids.length === 0) return;
    const states = await this.redis.hmget(this.keys.operationStates, ...ids);
    for (const [i, id] of ids.entries()) {
      if (states[i] !== null) continue;
      const op = await this.getOperation(id);
      if (op) await this.redis.hsetnx(this.keys.operationStates, id, op.state);
    }
  }

  private writeOperation(tx: ChainableCommander, op: Operation): ChainableCommander {
    tx.hset(this.keys.operations, op.id, encode(op)).hset(this.keys.operationStates, op.id, op.state);
    if (FINISHED_STATES.has(op.state)) return tx.zrem(this.keys.unfinishedOperations, op.id);
    return tx.zadd(this.keys.unfinishedOperations, op.createdAtMs, op.id);
  }

  private writePosition(tx: ChainableCommander, position: Position): ChainableCommander {
    const { positions, allPositions, openPositions, positionsAwaitingFunding } = this.keys;
    tx.hset(positions, position.id, encode(position)).zadd(allPositions, position.openedAtMs, position.id);
    if (position.status === 'open') return tx.zadd(openPositions, position.openedAtMs, position.id).zrem(positionsAwaitingFunding, position.id);
    tx.zrem(openPositions, position.id);
    if (position.fundingComplete) return tx.zrem(positionsAwaitingFunding, position.id);
    return tx.zadd(positionsAwaitingFunding, position.openedAtMs, position.id);
  }

  private async readOne<T>(hash: string, id: string): Promise<T | null> {
    const text = await this.redis.hget(hash, id);
    return text === null ? null : decode<T>(text);
  }

  private async readListed<T>(hash: string, index: string): Promise<T[]> {
    const texts = await this.scripts.storeReadListed(index, hash);
    return texts.filter((text): text is string => typeof text === 'string').map((text) => decode<T>(text));
  }
}

function keysFor(prefix: string) {
  return {
    operations: `${prefix}operations`,
    operationStates: `${prefix}operations:state`,
    unfinishedOperations: `${prefix}operations:unfinished`,
    positions: `${prefix}positions`,
    openPositions: `${prefix}positions:open`,
    allPositions: `${prefix}positions:all`,
    positionsAwaitingFunding: `${prefix}positions:awaiting-funding`,
    fills: `${prefix}fills`,
    ledger: `${prefix}ledger`,
    ledgerIds: `${prefix}ledger:ids`,
    audit: `${prefix}audit`,
    mode: `${prefix}mode`,
    modeEpoch: `${prefix}mode:epoch`,
    values: `${prefix}value:`,
    claims: `${prefix}claim:`,
  };
}

function idEntryPairs(entries: LedgerEntry[]): string[] {
  return entries.flatMap((entry) => [entry.id, encode(entry)]);
}

/** MULTI reports a failed command inside its result list rather than rejecting. */
async function execOrThrow(tx: ChainableCommander): Promise<void> {
  const results = await tx.exec();
  if (results === null) throw new Error('Redis transaction was aborted');
  const failure = results.find(([err]) => err !== null);
  if (failure) throw failure[0];
}
