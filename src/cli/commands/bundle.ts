// `airlock bundle create | verify | import` (issue 11): flags into options, one library call each.
import { AirlockError } from '../../errors.ts';
import { escapeControl, readUserFile, writeFileAtomic } from '../../core/index.ts';
import {
  type BundleItem,
  bundleJUnit,
  createBundle,
  importBundle,
  inventoryReferences,
  packBundle,
  parseRepositoryMappings,
  parseSize,
  unpackBundle,
  verifyBundle,
} from '../../bundle/index.ts';
import { resolveVerifyPolicy, type VerifyPolicy } from '../../sign/index.ts';
import {
  type CommandContext,
  type CommandSpec,
  concurrencyOption,
  type OptionSpec,
  stringList,
  stringOption,
} from '../command.ts';
import { readKeyFile, SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { renderBatch } from '../render.ts';
import { explainFailures, policyFrom, verifyOptions } from '../verify-options.ts';
import { VERSION } from '../app.ts';

/** The artifacts' own policy: --verify-key, or --verify-identity-regexp with --verify-oidc-issuer-regexp. */
const ARTIFACT_POLICY_OPTIONS: Record<string, OptionSpec> = {
  'verify-key': {
    type: 'string',
    value: 'PUB',
    multiple: true,
    description: "Public key each artifact's own signature must verify with (any of several).",
  },
  'verify-identity-regexp': {
    type: 'string',
    value: 'REGEX',
    multiple: true,
    description: 'Keyless artifact signer identity (certificate SAN) as a regular expression.',
  },
  'verify-oidc-issuer-regexp': {
    type: 'string',
    value: 'REGEX',
    multiple: true,
    description: 'OIDC issuer paired with each --verify-identity-regexp.',
  },
};

async function artifactPolicy(context: CommandContext): Promise<VerifyPolicy | undefined> {
  const { values } = context;
  const keys = await Promise.all(
    stringList(values, 'verify-key').map(async (name) => ({
      name,
      pem: await readKeyFile(name, 'the public key'),
    })),
  );
  const subjects = stringList(values, 'verify-identity-regexp');
  const issuers = stringList(values, 'verify-oidc-issuer-regexp');
  if (subjects.length !== issuers.length)
    throw new AirlockError(
      'USAGE',
      'give one --verify-oidc-issuer-regexp for each --verify-identity-regexp',
    );
  if (keys.length === 0 && subjects.length === 0) return undefined;
  const rootPath = stringOption(values, 'trusted-root');
  return resolveVerifyPolicy({
    keys,
    identities: subjects.map((subjectRegExp, i) => ({
      subjectRegExp,
      issuerRegExp: issuers[i] ?? '',
    })),
    ...(rootPath === undefined
      ? {}
      : { trustedRoot: await readKeyFile(rootPath, 'the trusted root') }),
    ignoreTlog: values['insecure-ignore-tlog'] === true,
  });
}

const itemLine = (item: BundleItem): string =>
  `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}${item.verified === undefined ? '' : ` (${item.verified.format}${item.verified.keyName === undefined ? '' : `, key ${item.verified.keyName}`}${item.verified.subject === undefined ? '' : `, signed by ${item.verified.subject}`})`}`;

export const bundleCreateCommand: CommandSpec = {
  name: 'bundle create',
  usage:
    'airlock bundle create (--from-file refs.txt | --inventory inventory.csv --from REGISTRY/PREFIX) -o DIR (--key KEY | --keyless) [--verify-key PUB | --certificate-identity… ] [--require-signed] [--since BASE]',
  description: [
    'Packs the artifacts refs.txt names (one reference per line: charts, Flux artifacts, images',
    'and multi-arch indexes, from a registry or oci-layout:PATH:TAG), and with --inventory every',
    'chart version the mirror --from holds for each row of inventory.csv, with their signatures,',
    'attestations, SBOMs and referrers into DIR, an OCI image layout that stores every blob once.',
    "Each artifact's own signature is verified first against --verify-key or the identity flags",
    '(as in "airlock verify"); --require-signed refuses unsigned content when no policy is given.',
    'index.json names each artifact repository:tag (skopeo: oci:DIR:repository:tag) with its',
    'source reference; a bundle manifest lists everything and is signed with --key or --keyless.',
    '',
    '--since BASE (a previous bundle directory, or its manifest) packs only what BASE does not',
    'hold: tags that still name the same digest are left out, the base blobs are referenced, and',
    "the base's digest is recorded; import refuses it where the base is missing.",
    '',
    'DIR must not exist or be empty; it is written only when complete and signed.',
  ].join('\n'),
  examples: [
    'airlock bundle create --from-file refs.txt -o bundle --verify-key a.pub --key b.key',
    'airlock bundle create --from-file refs.txt -o delta --since bundle --verify-key a.pub --key b.key',
    'airlock bundle create --inventory inventory.csv --from registry.internal/mirror -o charts --verify-key mirror.pub --key b.key',
    'airlock bundle create --from-file refs.txt -o bundle --keyless --certificate-identity-regexp "^https://gitlab.internal/" --certificate-oidc-issuer https://gitlab.internal --trusted-root trusted_root.json',
  ],
  registry: true,
  options: {
    'from-file': {
      type: 'string',
      value: 'FILE',
      description: 'References to bundle, one per line (# comments).',
    },
    inventory: {
      type: 'string',
      value: 'FILE',
      description: 'Bundle every version the mirror (--from) holds for each row of this inventory.',
    },
    from: {
      type: 'string',
      value: 'REGISTRY/PREFIX',
      description: 'The mirror the --inventory rows were mirrored into.',
    },
    output: { type: 'string', short: 'o', value: 'DIR', description: 'The bundle directory.' },
    ...SIGNER_OPTIONS,
    ...verifyOptions('verify-key'),
    'require-signed': {
      type: 'boolean',
      description: 'Refuse artifacts that carry no signature at all.',
    },
    since: {
      type: 'string',
      value: 'BASE',
      description: 'Pack a delta against this bundle (directory or manifest file).',
    },
  },
  async run(context) {
    const { values, out } = context;
    const file = stringOption(values, 'from-file');
    const outDir = stringOption(values, 'output');
    const inventory = stringOption(values, 'inventory');
    const from = stringOption(values, 'from');
    if ((file === undefined && inventory === undefined) || outDir === undefined)
      throw new AirlockError(
        'USAGE',
        'bundle create needs -o DIR and --from-file FILE or --inventory FILE --from REGISTRY/PREFIX',
      );
    if ((inventory === undefined) !== (from === undefined))
      throw new AirlockError('USAGE', '--inventory and --from go together');
    const references: string[] = [];
    if (file !== undefined) {
      const text = (await readUserFile(file, { what: 'the reference list' })).toString('utf8');
      references.push(
        ...text
          .split(/\r?\n/)
          .map((l) => l.replace(/#.*$/, '').trim())
          .filter((l) => l !== ''),
      );
    }
    const hasPolicy =
      stringList(values, 'verify-key').length > 0 ||
      stringList(values, 'certificate-identity').length > 0 ||
      stringList(values, 'certificate-identity-regexp').length > 0;
    const policy = hasPolicy ? await policyFrom(context, 'verify-key', 'bundle create') : undefined;
    const signer = await signerFrom(context);
    const since = stringOption(values, 'since');
    const session = await context.session();
    if (inventory !== undefined && from !== undefined) {
      const text = (await readUserFile(inventory, { what: 'the inventory' })).toString('utf8');
      references.push(...(await inventoryReferences(session, { text, file: inventory, from })));
    }
    const concurrency = concurrencyOption(values);
    const created = await createBundle(session, {
      references,
      outDir,
      signer,
      ...(policy === undefined ? {} : { policy }),
      requireSigned: values['require-signed'] === true,
      ...(since === undefined ? {} : { since }),
      tool: { name: 'airlock', version: VERSION },
      ...(concurrency === undefined ? {} : { concurrency }),
      signal: context.signal,
      onEvent: ({ done, total }) => out.progress(`bundled ${done}/${total}`),
    });
    const s = created.report.summary;
    return renderBatch(out, created.report, {
      line: itemLine,
      summary: `${escapeControl(created.dir)}: ${s.done} artifacts bundled${s.present > 0 ? `, ${s.present} unchanged since the base` : ''}, ${created.manifest.contents.length} blobs; manifest ${created.documentDigest}${created.manifest.base === undefined ? '' : ` (delta of ${created.manifest.base.digest})`}`,
      showAll: true,
    });
  },
};

const BUNDLE_POLICY_NOTE =
  '--key (or --certificate-identity… with --trusted-root) is who signed the bundle; --verify-key (or --verify-identity-regexp) who signed each artifact.';

export const bundleVerifyCommand: CommandSpec = {
  name: 'bundle verify',
  usage: 'airlock bundle verify DIR --key PUB [--verify-key PUB] [--junit FILE] [--json]',
  description: [
    'Offline, on the isolated side: verifies the bundle signature, that the layout is exactly',
    'what the signed manifest lists (index.json entry by entry, every blob present with its size',
    'and sha256, nothing unlisted, every manifest reachable from the index present — or held by',
    "the base of a delta), and each artifact's own signature. One report item for the bundle,",
    'one per artifact. Exit 3 on any failure, with what failed and where.',
    '',
    BUNDLE_POLICY_NOTE,
  ].join('\n'),
  examples: [
    'airlock bundle verify bundle --key b.pub --verify-key a.pub',
    'airlock bundle verify bundle --key b.pub --verify-key a.pub --junit bundle-verify.xml --json',
  ],
  registry: false,
  options: {
    ...verifyOptions('key'),
    ...ARTIFACT_POLICY_OPTIONS,
    junit: { type: 'string', value: 'FILE', description: 'Write a JUnit XML report.' },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'bundle verify takes one DIR');
    const bundlePolicy = await policyFrom(context, 'key', 'bundle verify');
    const policy = await artifactPolicy(context);
    const result = await verifyBundle({
      dir,
      bundlePolicy,
      ...(policy === undefined ? {} : { artifactPolicy: policy }),
      signal: context.signal,
    });
    const junit = stringOption(values, 'junit');
    if (junit !== undefined) await writeFileAtomic(junit, bundleJUnit(result.report));
    const status = renderBatch(out, result.report, {
      line: itemLine,
      summary: `${result.report.summary.done} verified, ${result.report.summary.failed} failed, ${result.report.summary.skipped} not checked`,
      showAll: true,
    });
    explainFailures(out, result.report);
    return status;
  },
};

export const bundleImportCommand: CommandSpec = {
  name: 'bundle import',
  usage:
    'airlock bundle import DIR --to REGISTRY[/PREFIX] --key PUB [--verify-key PUB] [--map FROM=TO] [--force]',
  description: [
    'Runs "bundle verify" first and imports nothing if it fails. Then pushes every artifact into',
    'the registry through the copy engine under its original repository path (below PREFIX, or',
    'rewritten with --map FROM=TO), blobs before manifests, tags last, signatures and referrers',
    'after their subjects. What the registry already holds is not sent again: an interrupted',
    'import re-run uploads only what is missing. A delta is refused unless the registry holds',
    "its base's contents; --force imports it anyway (loudly).",
    '',
    BUNDLE_POLICY_NOTE,
  ].join('\n'),
  examples: [
    'airlock bundle import bundle --to registry.internal/mirror --key b.pub',
    'airlock bundle import delta --to registry.internal/mirror --key b.pub --verify-key a.pub --json',
    'airlock bundle import bundle --to registry.internal --key b.pub --map charts=platform/charts',
  ],
  registry: true,
  options: {
    to: { type: 'string', value: 'REGISTRY[/PREFIX]', description: 'Where to import.' },
    ...verifyOptions('key'),
    ...ARTIFACT_POLICY_OPTIONS,
    map: {
      type: 'string',
      value: 'FROM=TO',
      multiple: true,
      description: 'Rewrite a repository path prefix on import.',
    },
    force: {
      type: 'boolean',
      description: 'Import a delta although the registry does not hold its base.',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [dir, ...extra] = positionals;
    const to = stringOption(values, 'to');
    if (dir === undefined || extra.length > 0 || to === undefined)
      throw new AirlockError('USAGE', 'bundle import takes one DIR and --to REGISTRY[/PREFIX]');
    const bundlePolicy = await policyFrom(context, 'key', 'bundle import');
    const policy = await artifactPolicy(context);
    const session = await context.session();
    const concurrency = concurrencyOption(values);
    const imported = await importBundle({
      dir,
      to: session.target(to),
      bundlePolicy,
      ...(policy === undefined ? {} : { artifactPolicy: policy }),
      map: parseRepositoryMappings(stringList(values, 'map')),
      force: values.force === true,
      ...(concurrency === undefined ? {} : { concurrency }),
      signal: context.signal,
      onEvent: (event) => {
        if (event.type === 'item') out.progress(`imported ${event.done}/${event.total}`);
      },
    });
    if (imported.baseMissing.length > 0)
      out.info(
        `airlock: WARNING: imported a delta without its base (--force): ${imported.baseMissing.length} base contents are missing in ${escapeControl(to)}; the artifacts that need them are incomplete`,
      );
    const s = imported.report.summary;
    return renderBatch(out, imported.report, {
      summary: `${s.done} imported, ${s.present} already present, ${s.failed} failed (${s.bytes} bytes uploaded)`,
      showAll: true,
    });
  },
};

export const bundlePackCommand: CommandSpec = {
  name: 'bundle pack',
  usage: 'airlock bundle pack DIR -o OUT --chunk-size SIZE (--key KEY | --keyless)',
  description: [
    'Writes the bundle DIR as one tar stream cut into fixed-size files OUT/bundle.000000, …, for',
    'removable media or a data diode, plus a chunk list (sha256 and size of each chunk) signed',
    'with --key or --keyless (OUT/chunks.oci; OUT/chunks.json for people). Memory stays flat',
    'whatever the bundle size. OUT must not exist or be empty.',
    'SIZE: bytes, or with a unit: 512MiB, 4GiB, 100MB (K/M/G/T are binary).',
  ].join('\n'),
  examples: [
    'airlock bundle pack bundle -o media --chunk-size 4GiB --key b.key',
    'airlock bundle pack delta -o diode --chunk-size 64MiB --key b.key --json',
  ],
  registry: false,
  options: {
    output: { type: 'string', short: 'o', value: 'OUT', description: 'Where the chunks go.' },
    'chunk-size': { type: 'string', value: 'SIZE', description: 'Size of each chunk file.' },
    ...SIGNER_OPTIONS,
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [dir, ...extra] = positionals;
    const outDir = stringOption(values, 'output');
    const size = stringOption(values, 'chunk-size');
    if (dir === undefined || extra.length > 0 || outDir === undefined || size === undefined)
      throw new AirlockError('USAGE', 'bundle pack takes one DIR, -o OUT and --chunk-size SIZE');
    const chunkSize = parseSize(size);
    const signer = await signerFrom(context);
    const packed = await packBundle({
      dir,
      outDir,
      chunkSize,
      signer,
      signal: context.signal,
      onEvent: (e) =>
        out.progress(`chunk ${e.index + 1}${e.total === undefined ? '' : `/${e.total}`}`),
    });
    out.result(
      [
        ...packed.chunks.map((c) => `${c.name}  ${c.size}  ${c.digest}`),
        `${escapeControl(packed.outDir)}: ${packed.chunks.length} chunks, ${packed.totalSize} bytes; chunk list ${packed.chunkListDigest} signed`,
      ],
      packed,
    );
    return 0;
  },
};

export const bundleUnpackCommand: CommandSpec = {
  name: 'bundle unpack',
  usage: 'airlock bundle unpack OUT -o DIR [--key PUB]',
  description: [
    'Reassembles a packed bundle into DIR, verifying the chunk list signature (--key, or the',
    'identity flags with --trusted-root) and each chunk as it is extracted: nothing a chunk holds',
    'takes its real name before the chunk verifies, and a corrupt chunk leaves nothing behind.',
    'A missing chunk is named (exit 1) and a corrupt one refused (exit 3); re-running after the',
    'missing chunk has arrived continues from it, as does a re-run after an interruption. Then',
    'run "airlock bundle verify DIR" before importing.',
  ].join('\n'),
  examples: [
    'airlock bundle unpack media -o bundle --key b.pub',
    'airlock bundle unpack media -o bundle --key b.pub --json',
  ],
  registry: false,
  options: {
    output: { type: 'string', short: 'o', value: 'DIR', description: 'The bundle directory.' },
    ...verifyOptions('key'),
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [packed, ...extra] = positionals;
    const outDir = stringOption(values, 'output');
    if (packed === undefined || extra.length > 0 || outDir === undefined)
      throw new AirlockError('USAGE', 'bundle unpack takes one OUT and -o DIR');
    const hasPolicy =
      stringList(values, 'key').length > 0 ||
      stringList(values, 'certificate-identity').length > 0 ||
      stringList(values, 'certificate-identity-regexp').length > 0;
    const policy = hasPolicy ? await policyFrom(context, 'key', 'bundle unpack') : undefined;
    if (policy === undefined)
      out.info(
        'airlock: no --key: the chunk list signature is not checked (run bundle verify next)',
      );
    const unpacked = await unpackBundle({
      packed,
      outDir,
      ...(policy === undefined ? {} : { policy }),
      signal: context.signal,
      onEvent: (e) => {
        if (e.type === 'chunk')
          out.progress(`chunk ${e.index + 1}${e.total === undefined ? '' : `/${e.total}`}`);
      },
    });
    out.result(
      `${escapeControl(unpacked.outDir)}: ${unpacked.totalFiles} files, ${unpacked.totalBytes} bytes from ${unpacked.chunks} chunks${unpacked.resumedFrom === undefined ? '' : ` (resumed at chunk ${unpacked.resumedFrom.chunk})`}`,
      unpacked,
    );
    return 0;
  },
};
