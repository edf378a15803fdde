import type { TestProject } from 'vitest/node';
import { ensureRedisServerInstalled, startRedisServer } from '../../src/infra/redisServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One real redis-server for the integration project; each test file uses its own key prefix. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureRedisServerInstalled((line) => console.log(line));
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}
