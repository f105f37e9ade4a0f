import { AirlockError } from '../../errors.ts';
import { parseAnnotations } from '../../core/index.ts';
import { signArtifacts } from '../../sign/index.ts';
import { type CommandSpec, concurrencyOption, stringList } from '../command.ts';
import { SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { renderBatch } from '../render.ts';

export const signCommand: CommandSpec = {
  name: 'sign',
  usage: 'airlock sign REF… (--key cosign.key | --keyless) [-a key=value…] [--bundle]',
  description: [
    'Signs the manifest digest each REF resolves to (resolved once), as cosign does: a',
    'simple-signing payload in the sha256-<hex>.sig tag. Existing signatures are kept; signing again',
    'with the same key adds no duplicate (outcome "present"). The key password comes from',
    'COSIGN_PASSWORD, a prompt, or standard input. --json prints the batch report (docs/json.md).',
  ].join('\n'),
  examples: [
    'COSIGN_PASSWORD=... airlock sign registry.internal/charts/podinfo:6.5.0 --key cosign.key',
    'airlock sign registry.internal/apps/web:latest --key cosign.key -a git-sha=$GIT_SHA',
    'airlock sign registry.internal/apps/web:latest --keyless --identity-token-env GITLAB_OIDC_TOKEN',
  ],
  registry: true,
  options: {
    ...SIGNER_OPTIONS,
    annotation: {
      type: 'string',
      short: 'a',
      multiple: true,
      value: 'K=V',
      description: 'Annotation signed into the payload (optional section).',
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
    if (values.keyless === true && values.bundle === true)
      throw new AirlockError(
        'USAGE',
        '--bundle is for --key signing; keyless signatures carry their certificate and Rekor entry on the .sig layer',
      );
    const annotations = parseAnnotations(stringList(values, 'annotation'));
    const signer = await signerFrom(context);
    const session = await context.session();
    const report = await signArtifacts(session, positionals, signer, {
      annotations,
      bundle: values.bundle === true,
      concurrency: concurrencyOption(values) ?? session.concurrency,
      signal: context.signal,
      onEvent: ({ done, total }) => out.progress(`signing ${done}/${total}`),
    });
    const { done, present, failed } = report.summary;
    return renderBatch(out, report, {
      line: (item) =>
        `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}${item.bundleDigest === undefined ? '' : ` (bundle ${item.bundleDigest})`}`,
      summary: `${done} signed, ${present} already signed, ${failed} failed`,
      showAll: true,
    });
  },
};
