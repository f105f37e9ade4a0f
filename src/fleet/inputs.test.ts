import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GoInt, type GoMap, type GoValue } from '../goyaml/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import {
  adler32,
  combineInputs,
  inputID,
  jsonRoundTrip,
  MAX_PERMUTATIONS,
  normalizeKey,
  Permuter,
  withProvider,
} from './inputs.ts';
import { compileLabelSelector } from './selector.ts';

const map = (entries: Record<string, GoValue>): GoMap => new Map(Object.entries(entries));

/** A GoMap as a plain object, nested maps included, for deepEqual. */
const plain = (value: GoValue | undefined): unknown =>
  value instanceof Map
    ? Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
    : Array.isArray(value)
      ? value.map(plain)
      : value;

describe('ResourceSet input ids (FO inputs.ID)', () => {
  it('gives the ids of the operator tests (combine_test.go, permuter_test.go)', () => {
    assert.equal(inputID('foo'), '42074437');
    assert.equal(inputID('bar'), '39649590');
    assert.equal(inputID('baz'), '40173886');
    assert.equal(inputID('team1-apps'), '340788154');
    assert.equal(inputID('rset=0/rsip=0'), '563152006');
    assert.equal(inputID('rset=1/rsip=0'), '563676295');
    assert.equal(inputID('provider_1=0/provider_2=0'), '2075461889');
    assert.equal(inputID('color_environments=0/team1_apps=0'), '3776973979');
    assert.equal(inputID(''), '1');
  });

  it('stays exact for inputs longer than the modulo interval', () => {
    // zlib.adler32 of 6000 'a' bytes (python3 -c "import zlib; print(zlib.adler32(b'a'*6000))").
    assert.equal(adler32('a'.repeat(6000)), 2051858921);
  });
});

describe('provider names as template keys (FO keys_test.go)', () => {
  const table: [string, string][] = [
    ['My_ResourceSet', 'my_resourceset'],
    ['My-ResourceSet', 'my_resourceset'],
    ['My/ResourceSet', 'my_resourceset'],
    ['My,ResourceSet', 'my_resourceset'],
    ['My:ResourceSet', 'my_resourceset'],
    ['My.ResourceSet', 'my_resourceset'],
    ['My!ResourceSet', 'my_resourceset'],
    ['My?ResourceSet', 'my_resourceset'],
    ['My@ResourceSet', 'my_resourceset'],
    ['My#ResourceSet', 'my_resourceset'],
    ['My ResourceSet', 'my_resourceset'],
    ['_a---b_-_', 'a_b'],
    ['A0..B', 'a0_b'],
    ['A  B', 'a_b'],
    ['A@@B', 'a_b'],
    ['A##B', 'a_b'],
    ['__', ''],
    // Symbols (Go unicode.IsPunct is false for them) are dropped, not turned into `_`.
    ['a+b$c^d', 'abcd'],
    ['-£%^$%&$%$£%$', ''],
  ];
  for (const [key, expected] of table)
    it(`${JSON.stringify(key)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeKey(key), expected);
    });
});

describe('Flatten and Permute (FO combine_test.go, permuter_test.go)', () => {
  const rset = withProvider([map({ id: inputID('foo') }), map({ id: inputID('bar') })], {
    apiVersion: 'fluxcd.controlplane.io/v1',
    kind: 'ResourceSet',
    name: 'rset',
    namespace: 'default',
  });
  const rsip = withProvider([map({ id: inputID('baz') })], {
    apiVersion: 'fluxcd.controlplane.io/v1',
    kind: 'ResourceSetInputProvider',
    name: 'rsip',
    namespace: 'default',
  });
  const providers = [
    { kind: 'ResourceSet', name: 'rset', inputs: rset },
    { kind: 'ResourceSetInputProvider', name: 'rsip', inputs: rsip },
  ];
  const provider = (kind: string, name: string): Record<string, string> => ({
    apiVersion: 'fluxcd.controlplane.io/v1',
    kind,
    name,
    namespace: 'default',
  });

  it('flattens by default, in provider order, with the provider key on every set', () => {
    for (const strategy of [undefined, '', 'Flatten'])
      assert.deepEqual(combineInputs(providers, { strategy }).map(plain), [
        { id: '42074437', provider: provider('ResourceSet', 'rset') },
        { id: '39649590', provider: provider('ResourceSet', 'rset') },
        { id: '40173886', provider: provider('ResourceSetInputProvider', 'rsip') },
      ]);
  });

  it('permutes row-major, each set under its provider name, with the permutation id', () => {
    assert.deepEqual(combineInputs(providers, { strategy: 'Permute' }).map(plain), [
      {
        id: '563152006',
        rset: { id: '42074437', provider: provider('ResourceSet', 'rset') },
        rsip: { id: '40173886', provider: provider('ResourceSetInputProvider', 'rsip') },
      },
      {
        id: '563676295',
        rset: { id: '39649590', provider: provider('ResourceSet', 'rset') },
        rsip: { id: '40173886', provider: provider('ResourceSetInputProvider', 'rsip') },
      },
    ]);
    // includeEmptyProviders changes nothing when no provider is empty.
    assert.equal(
      combineInputs(providers, { strategy: 'Permute', includeEmptyProviders: true }).length,
      2,
    );
  });

  it('skips empty providers, unless includeEmptyProviders makes the product empty', () => {
    const withEmpty = [
      providers[0]!,
      { kind: 'ResourceSetInputProvider', name: 'rsip', inputs: [] },
    ];
    assert.equal(combineInputs(withEmpty, { strategy: 'Permute' }).length, 2);
    assert.equal(
      combineInputs(withEmpty, { strategy: 'Permute', includeEmptyProviders: true }).length,
      0,
    );
  });

  it('gives the permuter_test.go ids for two providers of two sets', () => {
    const p = new Permuter();
    p.addProvider('provider-1', [map({ key1: 'value1' }), map({ key1: 'value2' })]);
    p.addProvider('provider-2', [map({ key2: 'value1' }), map({ key2: 'value2' })]);
    assert.deepEqual(p.combine().map(plain), [
      { id: '2075461889', provider_1: { key1: 'value1' }, provider_2: { key2: 'value1' } },
      { id: '2075527426', provider_1: { key1: 'value1' }, provider_2: { key2: 'value2' } },
      { id: '2076379394', provider_1: { key1: 'value2' }, provider_2: { key2: 'value1' } },
      { id: '2076444931', provider_1: { key1: 'value2' }, provider_2: { key2: 'value2' } },
    ]);
  });

  it('refuses more than 10000 permutations, names that normalize to nothing, late providers', () => {
    const p = new Permuter();
    const ten = Array.from({ length: 10 }, () => map({}));
    for (let i = 1; i <= 4; i++) p.addProvider(`provider-${i}`, ten);
    assert.throws(() => p.addProvider('provider-5', ten), {
      message: `adding provider 'provider-5' with 10 inputs would exceed the maximum allowed permutations. max: ${MAX_PERMUTATIONS}, got: 100000`,
    });
    assert.throws(() => new Permuter().addProvider('-£%^$%&$%$£%$', [map({})]), {
      message: "normalized provider name is empty: '-£%^$%&$%$£%$'",
    });
    const done = new Permuter();
    done.combine();
    assert.throws(() => done.addProvider('empty-provider', []), {
      message: 'permutations have already been generated, cannot add more inputs',
    });
    const many = Array.from({ length: 100000 }, () => map({}));
    const error = assertThrowsCode(
      () =>
        combineInputs([{ kind: 'ResourceSet', name: 'rset', inputs: many }], {
          strategy: 'Permute',
        }),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      error.message,
      "failed to get inputs from ResourceSet/rset: adding provider 'rset' with 100000 inputs would exceed the maximum allowed permutations. max: 10000, got: 100000",
    );
  });

  it('refuses an unknown strategy', () => {
    const error = assertThrowsCode(
      () => combineInputs(providers, { strategy: 'invalid-strategy' }),
      'RESOURCESET_INVALID',
    );
    assert.equal(error.message, "unknown input strategy: 'invalid-strategy'");
  });
});

describe('values as they come back from JSON', () => {
  it('turns integral floats into int64 and leaves the rest', () => {
    assert.deepEqual(jsonRoundTrip(1), new GoInt(1n));
    assert.equal(jsonRoundTrip(1.5), 1.5);
    assert.equal(jsonRoundTrip(1e21), 1e21);
    assert.deepEqual(plain(jsonRoundTrip(map({ a: [2.0, 'x'] }))), { a: [new GoInt(2n), 'x'] });
    assertThrowsCode(() => jsonRoundTrip(Number.NaN), 'RESOURCESET_INVALID');
  });
});

describe('label selectors (metav1.LabelSelector)', () => {
  const labels = (entries: Record<string, string>): Map<string, string> =>
    new Map(Object.entries(entries));
  const select = (
    matchLabels: Record<string, string>,
    matchExpressions: { key: string; operator: string; values?: string[] }[] = [],
  ) =>
    compileLabelSelector({
      matchLabels: labels(matchLabels),
      matchExpressions: matchExpressions.map((e) => ({ ...e, values: e.values ?? [] })),
    });

  it('ANDs matchLabels and every expression operator', () => {
    const matches = select({ team: 'a' }, [
      { key: 'env', operator: 'In', values: ['dev', 'test'] },
      { key: 'tier', operator: 'NotIn', values: ['db'] },
      { key: 'owner', operator: 'Exists' },
      { key: 'legacy', operator: 'DoesNotExist' },
    ]);
    assert.equal(matches(labels({ team: 'a', env: 'dev', owner: 'x' })), true);
    assert.equal(matches(labels({ team: 'a', env: 'dev', owner: 'x', tier: 'web' })), true);
    assert.equal(matches(labels({ team: 'b', env: 'dev', owner: 'x' })), false);
    assert.equal(matches(labels({ team: 'a', env: 'prod', owner: 'x' })), false);
    assert.equal(matches(labels({ team: 'a', owner: 'x' })), false);
    assert.equal(matches(labels({ team: 'a', env: 'dev', owner: 'x', tier: 'db' })), false);
    assert.equal(matches(labels({ team: 'a', env: 'dev' })), false);
    assert.equal(matches(labels({ team: 'a', env: 'dev', owner: 'x', legacy: '' })), false);
  });

  it('refuses what NewRequirement refuses', () => {
    assertThrowsCode(() => select({}, [{ key: 'env', operator: 'In' }]), 'RESOURCESET_INVALID');
    assertThrowsCode(
      () => select({}, [{ key: 'env', operator: 'Exists', values: ['x'] }]),
      'RESOURCESET_INVALID',
    );
    assertThrowsCode(
      () => select({}, [{ key: 'env', operator: 'Gt', values: ['1'] }]),
      'RESOURCESET_INVALID',
    );
    assertThrowsCode(() => select({ 'bad key': 'x' }), 'RESOURCESET_INVALID');
    assertThrowsCode(() => select({ ok: 'bad value!' }), 'RESOURCESET_INVALID');
    assert.equal(
      select({ 'example.com/team': 'a-b_c.d' })(labels({ 'example.com/team': 'a-b_c.d' })),
      true,
    );
  });
});
