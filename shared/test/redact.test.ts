import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { redact, redactUrls } from '../src/redact.ts';

describe('redact', () => {
  test('removes userinfo from every URL in a message, keeping the rest', () => {
    assert.equal(
      redactUrls('fetch https://x-access-token:ghs_abc@github.com/acme/env.git failed; see http://u@h:8080/p'),
      'fetch https://github.com/acme/env.git failed; see http://h:8080/p',
    );
    assert.equal(redactUrls('https://github.com/acme/env.git'), 'https://github.com/acme/env.git');
    assert.equal(redactUrls('mail me at a@b.example'), 'mail me at a@b.example');
  });

  test('replaces given secrets wherever they appear, but not tiny ones', () => {
    assert.equal(
      redact('Bearer ghs_secret failed (ghs_secret)', ['ghs_secret', undefined, 'x']),
      'Bearer *** failed (***)',
    );
  });
});
