import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { FetchImplementation } from '../../../src/engine/exchange/ccxtExchange.js';

/**
 * Replays recorded venue HTTP answers to the real ccxt exchange classes through their
 * `fetchImplementation`, routing by method + path (+ query), and records every request so a test
 * can count them (an order POSTed once, not twice).
 *
 * Fixtures live in tests/fixtures/ccxt/<venue>/<name>.json as `{ status, headers?, body }`.
 */

export interface RecordedRequest {
  method: string;
  url: string;
  path: string;
  /** Query string and form/JSON body parameters together. */
  params: Record<string, string>;
  body: string | undefined;
}

/** An inline answer, or a lost one: the request reached the venue, the answer never came back. */
export type Answer =
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { timeout: true }
  | { networkError: true };

/** A fixture name (without .json), an inline answer, or a function of what the venue has seen. */
export type Reply = string | Answer | ((venue: VenueState) => string | Answer);

export interface VenueState {
  /** How many requests with this method and path (and params) arrived before this one. */
  seen(method: string, path: string, params?: Record<string, string>): number;
  request: RecordedRequest;
}

interface Route {
  method: string;
  path: string;
  params: Record<string, string> | undefined;
  replies: Reply[];
  served: number;
}

const FIXTURES = new URL('../../fixtures/ccxt/', import.meta.url);

export class HttpReplayer {
  readonly requests: RecordedRequest[] = [];
  readonly unmatched: RecordedRequest[] = [];
  private readonly routes: Route[] = [];

  constructor(readonly venue: string) {}

  /** Answers `method path` with the replies in turn (the last one repeats). Later routes win. */
  on(method: string, path: string, ...replies: Reply[]): this {
    return this.onParams(method, path, undefined, ...replies);
  }

  /** Same, only for requests carrying these parameters (query or body). */
  onParams(method: string, path: string, params: Record<string, string> | undefined, ...replies: Reply[]): this {
    this.routes.push({ method: method.toUpperCase(), path, params, replies, served: 0 });
    return this;
  }

  count(method: string, path: string, params?: Record<string, string>): number {
    return this.requests.filter((r) => matches(r, method.toUpperCase(), path, params)).length;
  }

  find(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => matches(r, method.toUpperCase(), path, undefined));
  }

  readonly fetch: FetchImplementation = async (url, init) => {
    const request = record(url, init);
    const earlier = [...this.requests];
    this.requests.push(request);
    const route = [...this.routes].reverse().find((r) => matches(request, r.method, r.path, r.params));
    if (!route) {
      this.unmatched.push(request);
      throw new Error(`replayer(${this.venue}): no route for ${request.method} ${request.path} ${JSON.stringify(request.params)}`);
    }
    const reply = route.replies[Math.min(route.served, route.replies.length - 1)];
    route.served += 1;
    if (reply === undefined) throw new Error(`replayer(${this.venue}): route ${route.method} ${route.path} has no reply`);
    const state: VenueState = {
      request,
      seen: (method, path, params) => earlier.filter((r) => matches(r, method.toUpperCase(), path, params)).length,
    };
    const answer = this.resolve(typeof reply === 'function' ? reply(state) : reply);
    if ('timeout' in answer) throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    if ('networkError' in answer) throw new TypeError('fetch failed', { cause: new Error('read ECONNRESET') });
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      statusText: STATUS_CODES[answer.status] ?? '',
      headers: { 'content-type': 'application/json', ...answer.headers },
    });
  };

  private resolve(reply: string | Answer): Answer {
    if (typeof reply !== 'string') return reply;
    return loadFixture(this.venue, reply);
  }
}

const cache = new Map<string, Answer>();

export function loadFixture(venue: string, name: string): Answer {
  const key = `${venue}/${name}`;
  let answer = cache.get(key);
  if (!answer) {
    answer = JSON.parse(readFileSync(new URL(`${venue}/${name}.json`, FIXTURES), 'utf8')) as Answer;
    cache.set(key, answer);
  }
  return answer;
}

function record(url: string, init: Record<string, unknown>): RecordedRequest {
  const parsed = new URL(url);
  const params: Record<string, string> = {};
  parsed.searchParams.forEach((value, key) => (params[key] = value));
  const body = typeof init['body'] === 'string' ? init['body'] : undefined;
  if (body) {
    const text = body.trimStart();
    if (text.startsWith('{') || text.startsWith('[')) {
      // A JSON batch (OKX batch-orders) of one order reads like that order.
      const parsed = JSON.parse(body) as unknown;
      const fields = (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown> | undefined;
      for (const [key, value] of Object.entries(fields ?? {})) params[key] = String(value);
    } else {
      new URLSearchParams(body).forEach((value, key) => (params[key] = value));
    }
  }
  return { method: String(init['method'] ?? 'GET').toUpperCase(), url, path: parsed.pathname, params, body };
}

function matches(request: RecordedRequest, method: string, path: string, params: Record<string, string> | undefined): boolean {
  if (request.method !== method || request.path !== path) return false;
  return !params || Object.entries(params).every(([key, value]) => request.params[key] === value);
}
