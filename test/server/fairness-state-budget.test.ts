// The process-wide budget of ScopeState bytes (`stateBytes`, docs/server.md "Limits"): a token
// bucket in bytes, on the server's clock. A fetch runs at once while the bucket is not in debt
// and nobody waits; otherwise it waits, in order, and is served as the bucket refills.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveOptions } from '../../src/server/options.js';
import { DEFAULT_STATE_BYTES, StateBudget } from '../../src/server/rate-limit.js';
import { ManualClock } from '../helpers/clock.js';
import { waitFor } from '../helpers/wait.js';

/** Lets the budget's timers and immediates run for about `ms` of real time. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StateBudget', () => {
  test('runs at once within the budget, and in debt queues in order until the clock refills it', async () => {
    const clock = new ManualClock();
    // 1,000 bytes a second, 100 at once; every state below weighs 150 bytes.
    const budget = new StateBudget({ perSecond: 1000, burst: 100 }, () => clock.now());
    const served: string[] = [];
    const send = (name: string) => () => {
      served.push(name);
      return 150;
    };
    assert.equal(budget.request(send('a')), true, 'the first runs at once');
    assert.deepEqual(served, ['a']);
    // The bucket is 50 bytes in debt: the next ones wait, whatever the real time.
    assert.equal(budget.request(send('b')), false);
    assert.equal(budget.request(send('c')), false);
    assert.equal(budget.request(send('d')), false);
    assert.equal(budget.waiting, 3);
    await pause(120); // the budget's timers fire (50 ms of debt each time) and find no refill
    assert.deepEqual(served, ['a'], 'nothing is served while the clock stands still');

    clock.advance(50); // back to 0: one more state, which puts the bucket 150 in debt again
    await waitFor(() => served.length === 2);
    assert.deepEqual(served, ['a', 'b']);
    await pause(200);
    assert.deepEqual(served, ['a', 'b'], 'still one state per refill');

    clock.advance(300); // refills to the burst (100), not to 150: c (to −50), and d waits
    await waitFor(() => served.length === 3);
    await pause(120);
    assert.deepEqual(served, ['a', 'b', 'c'], 'the bucket holds no more than its burst');
    clock.advance(50);
    await waitFor(() => served.length === 4);
    assert.deepEqual(served, ['a', 'b', 'c', 'd'], 'first come, first served');
    assert.equal(budget.waiting, 0);
    // A newcomer waits too while the bucket is in debt, even with nobody ahead of it.
    assert.equal(budget.request(send('e')), false);
    clock.advance(1000);
    await waitFor(() => served.length === 5);
    // After a long quiet time, again one state of 150, then debt.
    clock.advance(60_000);
    assert.equal(budget.request(send('f')), true);
    assert.equal(budget.request(send('g')), false);
    clock.advance(1000);
    await waitFor(() => budget.waiting === 0);
    assert.deepEqual(served, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  test('serves one waiting state per event-loop turn, with I/O and timers in between', async () => {
    const clock = new ManualClock();
    const budget = new StateBudget({ perSecond: 1e9, burst: 1e9 }, () => clock.now());
    const order: string[] = [];
    budget.request(() => {
      order.push('a');
      return 1e9 + 1000; // in debt by 1,000 bytes: a microsecond of refill
    });
    for (const name of ['b', 'c', 'd']) {
      budget.request(() => {
        order.push(name);
        return 1;
      });
    }
    clock.advance(60_000);
    // Between two waiting states, the loop runs its other callbacks: count the turns.
    let turns = 0;
    const tick = () => {
      order.push(`turn ${++turns}`);
      if (budget.waiting > 0) setImmediate(tick);
    };
    setImmediate(tick);
    await waitFor(() => order.includes('d'));
    const states = order.filter((x) => !x.startsWith('turn'));
    assert.deepEqual(states, ['a', 'b', 'c', 'd']);
    const between = (x: string, y: string) => order.slice(order.indexOf(x) + 1, order.indexOf(y));
    assert.ok(
      between('b', 'c').some((x) => x.startsWith('turn')),
      `a turn between b and c: ${order}`,
    );
    assert.ok(
      between('c', 'd').some((x) => x.startsWith('turn')),
      `a turn between c and d: ${order}`,
    );
  });
});

describe('the stateBytes option', () => {
  test('defaults to 64 MiB/s with a 4 MiB burst', () => {
    const { stateBudget } = resolveOptions({});
    assert.equal(stateBudget.perSecond, 64 * 1024 * 1024);
    assert.equal(stateBudget.burst, 4 * 1024 * 1024);
    assert.deepEqual(DEFAULT_STATE_BYTES, { perSecond: 64 * 1024 * 1024, burst: 4 * 1024 * 1024 });
  });

  test('takes either part alone, and Infinity for no budget', () => {
    assert.equal(resolveOptions({ stateBytes: { perSecond: 1000 } }).stateBudget.burst, 4 * 1024 * 1024);
    assert.equal(resolveOptions({ stateBytes: { burst: 10 } }).stateBudget.perSecond, 64 * 1024 * 1024);
    const off = resolveOptions({ stateBytes: { perSecond: Number.POSITIVE_INFINITY } }).stateBudget;
    let ran = 0;
    for (let i = 0; i < 10; i++)
      assert.equal(
        off.request(() => ran++ + 1e12),
        true,
      );
    assert.equal(ran, 10);
  });

  for (const bad of [
    { perSecond: 0 },
    { perSecond: -1 },
    { perSecond: Number.NaN },
    { burst: 0 },
    { burst: 0.5 },
    { burst: Number.NaN },
    { perSecond: '100' as unknown as number },
  ]) {
    test(`refuses ${JSON.stringify(bad, (_k, v) => (Number.isNaN(v) ? 'NaN' : v))}`, () => {
      assert.throws(() => resolveOptions({ stateBytes: bad }), {
        name: 'TypeError',
        message: /stateBytes needs perSecond > 0 and burst >= 1/,
      });
    });
  }
});
