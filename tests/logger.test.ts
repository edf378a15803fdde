import { describe, expect, it } from 'vitest';
import { redactSecrets, scrubValues } from '../src/logger.js';

const TOKEN = '123456789:AAHsecretsecretsecretsecretsecret01';

describe('redactSecrets', () => {
  it('removes a bot token standing alone and inside a Bot API URL', () => {
    expect(redactSecrets(`token ${TOKEN} refused`)).toBe('token <redacted-token> refused');
    expect(redactSecrets(`request to https://api.telegram.org/bot${TOKEN}/getMe failed`)).toBe('request to https://api.telegram.org/bot<redacted-token>/getMe failed');
  });

  it('leaves ordinary text alone', () => {
    const text = 'delta-check at 2026-01-01T12:00:00Z: BTC drift 12 bps, order 2098117420348218624';
    expect(redactSecrets(text)).toBe(text);
  });

  it('also scrubs configured secret values', () => {
    expect(scrubValues(`key bySECRETXXXX and ${TOKEN}`, ['bySECRETXXXX'])).toBe('key <redacted> and <redacted-token>');
  });
});
