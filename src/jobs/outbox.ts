import type { Redis } from 'ioredis';

export interface Alert {
  /** Unique per event: the same alert queued twice is delivered once. */
  id: string;
  type: string;
  critical: boolean;
  text: string;
  createdAtMs: number;
}

// KEYS: claim key, list. ARGV: alert json, claim ttl ms.
const PUSH_ONCE_LUA = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
`;

const CLAIM_TTL_MS = 7 * 24 * 3_600_000;

/**
 * Alerts waiting for the chat, in Redis so they survive a restart: one list for critical alerts
 * and one for routine ones, each in arrival order. Items leave only after they were sent.
 */
export class Outbox {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(critical: boolean): string {
    return `${this.prefix}outbox:${critical ? 'critical' : 'routine'}`;
  }

  /** Adds an alert unless one with its id was added before; true if added. */
  async push(alert: Alert): Promise<boolean> {
    const added = await this.redis.eval(PUSH_ONCE_LUA, 2, `${this.prefix}outbox:seen:${alert.id}`, this.key(alert.critical), JSON.stringify(alert), String(CLAIM_TTL_MS));
    return added === 1;
  }

  async peek(critical: boolean, limit: number): Promise<Alert[]> {
    const texts = await this.redis.lrange(this.key(critical), 0, limit - 1);
    return texts.map((text) => JSON.parse(text) as Alert);
  }

  /** Removes the first `count` alerts of a list, once they have been delivered. */
  async remove(critical: boolean, count: number): Promise<void> {
    if (count > 0) await this.redis.ltrim(this.key(critical), count, -1);
  }

  async size(): Promise<number> {
    const [critical, routine] = await Promise.all([this.redis.llen(this.key(true)), this.redis.llen(this.key(false))]);
    return critical + routine;
  }
}
