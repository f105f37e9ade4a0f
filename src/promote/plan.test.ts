import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePromotionConfig } from './config.ts';
import type { Pin } from './pin.ts';
import { planPromotion, type RegistryAnswer, registryKey } from './plan.ts';

const config = parsePromotionConfig(
  [
    'environments:',
    '  - name: dev',
    '    paths: [dev]',
    '  - name: test',
    '    paths: [test]',
    '    autoMerge: [patch, digest]',
    '    soak: 24h',
    '',
  ].join('\n'),
);
const [dev, test] = config.environments as [
  (typeof config.environments)[0],
  (typeof config.environments)[0],
];
const NOW = new Date('2026-12-01T12:00:00Z');
const DIGEST = `sha256:${'a'.repeat(64)}`;

function pin(environment: string, version: string, extra: Partial<Pin> = {}): Pin {
  return {
    environment,
    file: `${environment}/web.yaml`,
    document: 0,
    line: 10,
    kind: 'OCIRepository',
    object: 'apps/web',
    component: 'web',
    repository: 'oci://registry.internal/charts/web',
    version,
    versionPath: ['spec', 'ref', 'tag'],
    digestPath: ['spec', 'ref', 'digest'],
    via: 'OCIRepository apps/web',
    ...extra,
  };
}

function plan(previousPins: Pin[], targetPins: Pin[], sinceHoursAgo = 48, answer?: RegistryAnswer) {
  const registry = new Map<string, RegistryAnswer>();
  for (const p of previousPins)
    registry.set(
      registryKey(p.repository, p.version ?? ''),
      answer ?? { digest: DIGEST, signature: undefined },
    );
  return planPromotion({
    previous: dev,
    target: test,
    previousPins,
    targetPins,
    since: new Map(
      previousPins.map((p) => [p, new Date(NOW.getTime() - sinceHoursAgo * 3_600_000)]),
    ),
    registry,
    now: NOW,
  });
}

describe('planPromotion', () => {
  it('a soaked patch auto-merges, a minor needs review, a fresh patch is blocked', () => {
    assert.equal(plan([pin('dev', '1.0.1')], [pin('test', '1.0.0')])[0]?.decision, 'auto-merge');
    assert.equal(plan([pin('dev', '1.1.0')], [pin('test', '1.0.0')])[0]?.decision, 'needs-review');
    const fresh = plan([pin('dev', '1.0.1')], [pin('test', '1.0.0')], 2)[0];
    assert.equal(fresh?.decision, 'blocked');
    assert.match(fresh.reasons[0] ?? '', /soaking: 2h of 1d/);
  });

  it('two target pins of one component: the largest step decides, a newer one is a downgrade', () => {
    const two = plan(
      [pin('dev', '1.1.0')],
      [pin('test', '1.0.9'), pin('test', '0.9.0', { line: 30 })],
    );
    assert.equal(two[0]?.updateType, 'major');
    const newer = plan(
      [pin('dev', '1.1.0')],
      [pin('test', '1.0.0'), pin('test', '1.2.0', { line: 30 })],
    );
    assert.equal(newer[0]?.decision, 'blocked');
    assert.match(newer[0].reasons[0] ?? '', /downgrade/);
  });

  it('the previous environment pinning one component at two versions is blocked, not guessed', () => {
    const items = plan(
      [pin('dev', '1.0.1'), pin('dev', '1.0.2', { line: 40 })],
      [pin('test', '1.0.0')],
    );
    assert.equal(items.length, 1);
    assert.equal(items[0]?.decision, 'blocked');
  });

  it('digests: a pin that cannot carry one never makes a digest update; a stale one does', () => {
    const { digestPath: _none, ...helm } = pin('test', '1.0.1', { kind: 'HelmRelease' });
    assert.equal(plan([pin('dev', '1.0.1')], [helm])[0]?.decision, 'current');
    const stale = pin('test', '1.0.1', { digest: `sha256:${'b'.repeat(64)}` });
    const item = plan([pin('dev', '1.0.1')], [stale])[0];
    assert.equal(item?.updateType, 'digest');
    assert.equal(item.decision, 'auto-merge');
  });

  it('a signature that fails the target policy blocks, whatever the step', () => {
    const item = plan([pin('dev', '1.0.1')], [pin('test', '1.0.0')], 48, {
      digest: DIGEST,
      signature: { verified: false, reason: 'no signature' },
    })[0];
    assert.equal(item?.decision, 'blocked');
    assert.equal(item.signature?.verified, false);
  });
});
