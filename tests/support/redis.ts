import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** URL of the redis-server started by the integration project's global setup. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A fresh key prefix so test files never see each other's keys. */
export function randomPrefix(): string {
  return `t${randomBytes(4).toString('hex')}:`;
}
