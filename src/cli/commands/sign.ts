import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { AirlockError } from '../../errors.ts';
import { formatReference, parseReference, referenceTarget } from '../../oci/index.ts';
import { attachSBOM } from '../../sbom/index.ts';
import {
  encryptKeyPair,
  generateKeyPair,
  type IdentityOptions,
  importPrivateKey,
  type KeyPair,
  keySecretYAML,
  loadPublicKey,
  oidcToken,
  resolveSigner,
  resolveVerifyPolicy,
  type Signer,
  signBundle,
  signLegacy,
  verifyArtifact,
} from '../../sign/index.ts';
import {
  type CommandContext,
  type CommandSpec,
  concurrencyOption,
  type OptionValues,
  readStdin,
  runBatch,
  stringList,
  stringOption,
} from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

/**
 * The key password, as cosign reads it (signing.md §3): COSIGN_PASSWORD if set (it may be empty),
 * else a prompt on a terminal, else all of standard input.
 */
/** The private-key password for commands that sign (COSIGN_PASSWORD, a prompt, or stdin). */
export function keyPassword(context: CommandContext): Promise<string> {
  return password(context, false);
}

async function password(context: CommandContext, confirm: boolean): Promise<string> {
  const fromEnv = context.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  const stdin = context.stdin as Readable & {
    isTTY?: boolean;
    setRawMode?: (raw: boolean) => void;
  };
  if (stdin.isTTY !== true) return (await readStdin(stdin)).replace(/\r?\n$/, '');
  const ask = (question: string): Promise<string> =>
    new Promise((resolve) => {
      const rl = createInterface({ input: stdin, terminal: true });
      process.stderr.write(question);
      // Keep the typed password off the screen.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
      rl.question('', (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Enter password for private key: ');
  if (confirm && (await ask('Enter password for private key again: ')) !== first)
    throw new AirlockError('USAGE', 'the passwords do not match');
  return first;
}

/** Writes a key file atomically with its mode set from the start; never overwrites without --force. */
async function writeNew(
  path: string,
  content: string,
  mode: number,
  force: boolean,
): Promise<void> {
  if (!force && existsSync(path))
    throw new AirlockError('USAGE', `${path} already exists`, {
      details: ['Pass --force to overwrite it.'],
    });
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode, flag: 'wx' });
  await rename(tmp, path);
}

/** Writes <prefix>.key (0600) and <prefix>.pub and reports them; refuses to overwrite without --force. */
async function writeKeyPair(
  context: CommandContext,
  prefix: string,
  pair: KeyPair,
): Promise<number> {
  const force = context.values.force === true;
  await writeNew(`${prefix}.key`, pair.privateKeyPEM, 0o600, force);
  await writeNew(`${prefix}.pub`, pair.publicKeyPEM, 0o644, force);
  context.out.result(
    [`Private key written to ${prefix}.key`, `Public key written to ${prefix}.pub`],
    { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` },
  );
  return ExitCode.ok;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError(
      'USAGE',
      `${what} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
}

export const keyGenerate: CommandSpec = {
  name: 'key generate',
  summary: 'Generate a cosign key pair (cosign.key encrypted, cosign.pub)',
  usage: 'airlock key generate [--output-key-prefix cosign] [--force]',
  description:
    'Writes <prefix>.key (mode 0600, encrypted exactly like "cosign generate-key-pair") and\n<prefix>.pub. The password comes from COSIGN_PASSWORD, a prompt, or standard input.',
  examples: [
    'COSIGN_PASSWORD="$(cat /run/secrets/pw)" airlock key generate',
    'airlock key generate --output-key-prefix release',
  ],
  registry: false,
  options: {
    'output-key-prefix': {
      type: 'string',
      value: 'PREFIX',
      description: 'File name prefix (default cosign).',
    },
    force: { type: 'boolean', description: 'Overwrite existing files.' },
  },
  async run(context) {
    const prefix = stringOption(context.values, 'output-key-prefix') ?? 'cosign';
    const pair = generateKeyPair(await password(context, true));
    return writeKeyPair(context, prefix, pair);
  },
};

export const keyImport: CommandSpec = {
  name: 'key import',
  summary: 'Import an unencrypted PKCS#8 or SEC1 key as an encrypted cosign key pair',
  usage: 'airlock key import KEY.pem [--output-key-prefix import-cosign] [--force]',
  examples: ['COSIGN_PASSWORD=... airlock key import ec-key.pem'],
  registry: false,
  options: {
    'output-key-prefix': {
      type: 'string',
      value: 'PREFIX',
      description: 'File name prefix (default import-cosign).',
    },
    force: { type: 'boolean', description: 'Overwrite existing files.' },
  },
  async run(context) {
    const [path, ...extra] = context.positionals;
    if (path === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'key import takes one KEY.pem');
    const key = importPrivateKey(await readText(path, 'key'), path);
    const pair = encryptKeyPair(key, await password(context, true));
    const prefix = stringOption(context.values, 'output-key-prefix') ?? 'import-cosign';
    return writeKeyPair(context, prefix, pair);
  },
};

export const keySecret: CommandSpec = {
  name: 'key secret',
  summary: 'Print the Kubernetes Secret Flux reads public keys from (entry cosign.pub)',
  usage: 'airlock key secret --namespace NS [--name cosign-pub] [--key cosign.pub]',
  examples: ['airlock key secret --namespace flux-system > cosign-pub.yaml'],
  registry: false,
  options: {
    namespace: { type: 'string', value: 'NS', description: 'Namespace of the OCIRepository.' },
    name: { type: 'string', value: 'NAME', description: 'Secret name (default cosign-pub).' },
    key: { type: 'string', value: 'FILE', description: 'Public key file (default cosign.pub).' },
  },
  async run({ values, out }) {
    const namespace = stringOption(values, 'namespace');
    if (namespace === undefined) throw new AirlockError('USAGE', 'key secret needs --namespace');
    const path = stringOption(values, 'key') ?? 'cosign.pub';
    const pem = await readText(path, 'public key');
    loadPublicKey(pem, path);
    const yaml = keySecretYAML(namespace, stringOption(values, 'name') ?? 'cosign-pub', pem);
    out.result(yaml.trimEnd(), { yaml });
    return ExitCode.ok;
  },
};

function parseAnnotations(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new AirlockError('USAGE', `-a "${item}" is not key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export const signCommand: CommandSpec = {
  name: 'sign',
  summary: 'Sign artifacts with a cosign key (cosign legacy format, read by every cosign and Flux)',
  usage: 'airlock sign REF… (--key cosign.key | --keyless) [-a key=value…]',
  description:
    'Signs the manifest digest each REF resolves to (resolved once), as cosign does: a\nsimple-signing payload in the sha256-<hex>.sig tag. Existing signatures are kept; a duplicate is\nnot added. The key password comes from COSIGN_PASSWORD, a prompt, or standard input.',
  examples: [
    'COSIGN_PASSWORD=... airlock sign registry.internal/charts/podinfo:6.5.0 --key cosign.key',
    'airlock sign registry.internal/apps/web:latest --key cosign.key -a git-sha=$GIT_SHA',
  ],
  registry: true,
  options: {
    key: {
      type: 'string',
      value: 'FILE',
      env: true,
      description: 'cosign private key (encrypted PEM).',
    },
    annotation: {
      type: 'string',
      short: 'a',
      multiple: true,
      value: 'K=V',
      description: 'Annotation signed into the payload (optional section).',
    },
    keyless: {
      type: 'boolean',
      description:
        "Sign with a Fulcio certificate for the CI job's OIDC identity, logged in Rekor.",
    },
    'identity-token-env': {
      type: 'string',
      value: 'NAME',
      description:
        'Variable holding the OIDC token (GitLab id_tokens); else SIGSTORE_ID_TOKEN or GitHub Actions.',
    },
    'fulcio-url': {
      type: 'string',
      value: 'URL',
      env: true,
      description: 'Fulcio of a private Sigstore (default the public one).',
    },
    'rekor-url': {
      type: 'string',
      value: 'URL',
      env: true,
      description: 'Rekor of a private Sigstore (default the public one).',
    },
    bundle: {
      type: 'boolean',
      description:
        'Also attach a Sigstore bundle v0.3 referrer (cosign v3 and Flux >= 2.8 then read only bundles).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    if (positionals.length === 0) throw new AirlockError('USAGE', 'sign takes at least one REF');
    const keyPath = stringOption(values, 'key');
    const keyless = values.keyless === true;
    if ((keyPath === undefined) === !keyless)
      throw new AirlockError('USAGE', 'sign needs exactly one of --key FILE and --keyless');
    if (keyless && values.bundle === true) {
      throw new AirlockError(
        'USAGE',
        '--bundle is for key signing here; keyless signatures carry their certificate and Rekor entry on the .sig layer',
      );
    }
    const refs = positionals.map((p) => parseReference(p, { requireTagOrDigest: true }));
    const identityTokenEnv = stringOption(values, 'identity-token-env');
    const fulcioURL = stringOption(values, 'fulcio-url');
    const rekorURL = stringOption(values, 'rekor-url');
    const keySigner =
      keyPath === undefined
        ? undefined
        : resolveSigner({
            key: {
              pem: await readText(keyPath, 'key'),
              password: await password(context, false),
              name: keyPath,
            },
          });
    const signer: Signer =
      keySigner ??
      resolveSigner({
        keyless: {
          token: await oidcToken({
            env: context.env,
            ...(identityTokenEnv === undefined ? {} : { identityTokenEnv }),
          }),
          ...(fulcioURL === undefined ? {} : { fulcioURL }),
          ...(rekorURL === undefined ? {} : { rekorURL }),
        },
      });
    const annotations = parseAnnotations(stringList(values, 'annotation'));
    const session = await context.session();
    const batch = await runBatch(
      refs,
      formatReference,
      concurrencyOption(values) ?? 8,
      out,
      async (ref) => {
        const repository = session.open(ref);
        const legacy = await signLegacy(repository, referenceTarget(ref) ?? '', signer, {
          annotations,
        });
        // The bundle signs the digest the legacy signature resolved: one resolution per reference.
        const bundle =
          values.bundle === true && keySigner
            ? await signBundle(repository, legacy.digest, keySigner, { annotations })
            : undefined;
        return { ...legacy, ...(bundle ? { bundleDigest: bundle.bundleDigest } : {}) };
      },
    );
    out.result(
      batch.results.map(
        (r) =>
          `${r.added ? 'signed' : 'already signed'} ${r.reference} (${r.signatureTag}${'bundleDigest' in r ? `, bundle ${r.bundleDigest}` : ''})`,
      ),
      batch.failures.length === 0
        ? batch.results
        : { results: batch.results, failures: batch.failures },
    );
    return batch.exitCode;
  },
};

function identityPolicies(values: OptionValues): IdentityOptions[] {
  const subjects: Pick<IdentityOptions, 'subject' | 'subjectRegExp'>[] = [
    ...stringList(values, 'certificate-identity').map((subject) => ({ subject })),
    ...stringList(values, 'certificate-identity-regexp').map((subjectRegExp) => ({
      subjectRegExp,
    })),
  ];
  const issuers: Pick<IdentityOptions, 'issuer' | 'issuerRegExp'>[] = [
    ...stringList(values, 'certificate-oidc-issuer').map((issuer) => ({ issuer })),
    ...stringList(values, 'certificate-oidc-issuer-regexp').map((issuerRegExp) => ({
      issuerRegExp,
    })),
  ];
  if (subjects.length !== issuers.length) {
    throw new AirlockError(
      'USAGE',
      'give one --certificate-oidc-issuer[-regexp] for each --certificate-identity[-regexp]',
      { details: ['Pairs are matched in order; any pair may match (Flux matchOIDCIdentity).'] },
    );
  }
  return subjects.map((subject, i) => ({ ...subject, ...issuers[i] }));
}

export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: 'Verify cosign signatures and Sigstore bundles (exit 3 when nothing verifies)',
  usage:
    'airlock verify REF… (--key cosign.pub… | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE)',
  description: [
    'Bundles attached as referrers are read first and, when any exists, only they count (cosign v3,',
    'Flux 2.8); otherwise the legacy sha256-<hex>.sig signatures. Any of several keys, or any of',
    'several identity pairs, may match. Stricter than Flux: the signed payload must name this',
    "artifact's digest, so a signature copied from another artifact is refused.",
  ].join('\n'),
  examples: [
    'airlock verify registry.internal/charts/podinfo:6.5.0 --key cosign.pub',
    'airlock verify registry.internal/apps/web:latest --key team-a.pub --key team-b.pub --json',
    'airlock verify registry.internal/apps/web:latest --certificate-identity-regexp "^https://gitlab.internal/platform/" --certificate-oidc-issuer https://gitlab.internal --trusted-root trusted_root.json',
  ],
  registry: true,
  options: {
    key: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      env: true,
      description: 'Public key (repeatable).',
    },
    'certificate-identity': {
      type: 'string',
      multiple: true,
      value: 'ID',
      description: 'Accepted signer identity (certificate SAN), exact.',
    },
    'certificate-identity-regexp': {
      type: 'string',
      multiple: true,
      value: 'REGEX',
      description: 'Accepted signer identity as a regular expression.',
    },
    'certificate-oidc-issuer': {
      type: 'string',
      multiple: true,
      value: 'URL',
      description: 'OIDC issuer paired with an identity, exact.',
    },
    'certificate-oidc-issuer-regexp': {
      type: 'string',
      multiple: true,
      value: 'REGEX',
      description: 'OIDC issuer as a regular expression.',
    },
    'trusted-root': {
      type: 'string',
      value: 'FILE',
      env: true,
      description:
        'trusted_root.json with Fulcio, Rekor and CT keys (offline or private Sigstore).',
    },
    'insecure-ignore-tlog': {
      type: 'boolean',
      description: 'Do not require a transparency-log entry (key-only offline checks).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    if (positionals.length === 0) throw new AirlockError('USAGE', 'verify takes at least one REF');
    const keys = await Promise.all(
      stringList(values, 'key').map(async (path) => ({
        name: path,
        pem: await readText(path, 'public key'),
      })),
    );
    const identities = identityPolicies(values);
    if (keys.length === 0 && identities.length === 0)
      throw new AirlockError(
        'USAGE',
        'verify needs --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]',
      );
    const rootPath = stringOption(values, 'trusted-root');
    const trustedRoot =
      rootPath === undefined ? undefined : await readText(rootPath, 'trusted root');
    const policy = resolveVerifyPolicy({
      keys,
      identities,
      ...(trustedRoot === undefined ? {} : { trustedRoot }),
      ignoreTlog: values['insecure-ignore-tlog'] === true,
    });
    const refs = positionals.map((p) => parseReference(p, { requireTagOrDigest: true }));
    const session = await context.session();
    const batch = await runBatch(
      refs,
      formatReference,
      concurrencyOption(values) ?? 8,
      out,
      (ref) => verifyArtifact(session.open(ref), referenceTarget(ref) ?? '', policy),
    );
    out.result(
      batch.results.map(
        (r) =>
          `verified ${r.reference} (${r.format}${'keyName' in r && r.keyName ? `, key ${r.keyName}` : ''}${'subject' in r && r.subject ? `, signed by ${r.subject}` : ''})`,
      ),
      batch.failures.length === 0
        ? batch.results
        : { results: batch.results, failures: batch.failures },
    );
    return batch.exitCode;
  },
};

export const sbomCommand: CommandSpec = {
  name: 'sbom',
  summary: 'Attach a CycloneDX SBOM to an artifact and sign it as an in-toto attestation',
  usage: 'airlock sbom REF --key cosign.key [-o sbom.json]',
  description: [
    'For a Flux artifact the SBOM lists every file with its SHA-256; for a Helm chart, the chart, its',
    'dependencies and the container images its values and templates name. The SBOM is attached as a',
    'referrer (application/vnd.cyclonedx+json) and signed as an in-toto attestation in a Sigstore',
    'bundle referrer (predicate https://cyclonedx.org/bom).',
  ].join('\n'),
  examples: [
    'airlock sbom registry.internal/charts/podinfo:6.5.0 --key cosign.key',
    'airlock sbom registry.internal/apps/web:latest --key cosign.key -o web.cdx.json',
  ],
  registry: true,
  options: {
    key: {
      type: 'string',
      value: 'FILE',
      env: true,
      description: 'cosign private key that signs the attestation.',
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      description: 'Also write the SBOM to FILE.',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'sbom takes one REF');
    const keyPath = stringOption(values, 'key');
    if (keyPath === undefined)
      throw new AirlockError('USAGE', 'sbom needs --key to sign the attestation');
    const ref = parseReference(refText, { requireTagOrDigest: true });
    const signer = resolveSigner({
      key: {
        pem: await readText(keyPath, 'key'),
        password: await password(context, false),
        name: keyPath,
      },
    });
    const repository = (await context.session()).open(ref);
    const result = await attachSBOM(repository, referenceTarget(ref) ?? '', signer);
    const output = stringOption(values, 'output');
    if (output !== undefined) await writeFile(output, `${JSON.stringify(result.bom, null, 2)}\n`);
    const { bom: _bom, ...summary } = result;
    out.result(
      `SBOM (${result.kind}, ${result.components} components) attached to ${result.reference} as ${result.sbomDigest}; attestation ${result.attestation.bundleDigest}`,
      summary,
    );
    return ExitCode.ok;
  },
};

export const signCommands: readonly CommandSpec[] = [
  keyGenerate,
  keyImport,
  keySecret,
  signCommand,
  verifyCommand,
  sbomCommand,
];
