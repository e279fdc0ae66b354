// The polling helper itself: resolves with the first ready value, is bounded, and says what it
// waited for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from './wait.js';

test('waitFor resolves with the first value that is not undefined, null or false (0 and "" count)', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? 'ready' : undefined), { interval: 1 }), 'ready');
  assert.equal(n, 3);
  assert.equal(await waitFor(() => 0), 0);
  assert.equal(await waitFor(() => ''), '');
  let m = 0;
  assert.equal(await waitFor(async () => ++m === 2 || null, { interval: 1 }), true);
});

test('waitFor times out with the message, also when an async check never settles', async () => {
  await assert.rejects(
    waitFor(() => false, { timeout: 30, message: 'the moon' }),
    /^Error: waitFor: timed out after \d+ ms waiting for the moon$/,
  );
  let tries = 0;
  await assert.rejects(
    waitFor(() => void ++tries, { timeout: 30, message: () => `a value after ${tries} tries` }),
    /waiting for a value after \d+ tries/,
  );
  await assert.rejects(
    waitFor(() => new Promise(() => {}), { timeout: 30 }),
    /timed out after \d+ ms waiting for the condition/,
  );
});

test('a check that throws fails waitFor at once, with its own error (not a time-out)', async () => {
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('broken');
      },
      { timeout: 5_000 },
    ),
    /^Error: broken$/,
  );
  await assert.rejects(
    waitFor(() => Promise.reject(new Error('async broken')), { timeout: 5_000 }),
    /async broken/,
  );
});
