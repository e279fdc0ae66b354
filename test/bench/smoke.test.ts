// The benchmark suite at smoke size (tiny loads, sub-second windows) against every target of each
// scenario (the abuse scenarios run against our server only; the cluster scenarios against the
// cluster of two processes and its single-process baselines, which need the machine's PostgreSQL
// and Redis, as the cluster tests do), so that the harness cannot rot.
// Asserts only completion: no errors, every fragment delivered to every session, every fetch
// complete, the abuse probe never closed. No timing assertions (benchmarks are never timed tests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runsOn, scenarios, TARGETS } from '../../bench/scenarios.js';
import { runSuite } from '../../bench/suite.js';

test('bench smoke: every scenario completes against every target without errors', {
  timeout: 300_000,
}, async () => {
  const res = await runSuite({ smoke: true, quietThreshold: 0 });
  for (const s of scenarios(true)) {
    for (const target of TARGETS) {
      if (!runsOn(s, target)) continue;
      const run = res.runs.find((r) => r.scenario === s.name && r.target === target);
      const where = `${s.name} · ${target}`;
      assert.ok(run, `${where}: did not run`);
      assert.equal(run.unavailable, undefined, `${where}: target unavailable`);
      assert.deepEqual(run.errorSamples, [], `${where}: errors`);
      assert.equal(run.errors, 0, `${where}: errors`);
      assert.ok(run.ok, `${where}: not ok`);
      const r = run.result;
      assert.ok(r, `${where}: no result`);
      if (s.spec.kind === 'flow') {
        assert.equal(r.kind, 'flow');
        if (r.kind !== 'flow') continue;
        assert.ok(r.complete, `${where}: incomplete delivery`);
        assert.ok(r.receivedDeliveries > 0, `${where}: nothing delivered`);
        assert.equal(r.receivedDeliveries, r.expectedDeliveries, `${where}: deliveries`);
        // The cluster is two server processes, each read on its own (targets/cluster.ts).
        const processes = target === 'cluster' ? 2 : 1;
        assert.equal(r.serverCpuSecByProcess.length, processes, `${where}: CPU per server process`);
        if (target === 'cluster' || target === 'postgres')
          assert.equal(run.processes?.length, processes, `${where}: server processes`);
      } else if (s.spec.kind === 'abuse') {
        assert.equal(r.kind, 'abuse');
        if (r.kind !== 'abuse') continue;
        assert.equal(r.probeClosed, null, `${where}: the probe's session was closed`);
        assert.ok(r.baseline.count > 0 && r.underAttack.count > 0, `${where}: no probe samples`);
      } else if (s.spec.kind === 'fetch') {
        assert.equal(r.kind, 'fetch');
        if (r.kind !== 'fetch') continue;
        assert.equal(r.fragments, s.spec.shapes + 1, `${where}: fragments in ScopeState`);
        assert.equal(r.fetches, s.spec.fetches);
      } else {
        assert.equal(run.idle?.sessions, s.spec.sessions, `${where}: idle sessions`);
      }
    }
  }
});
