import { AirlockError } from '../../errors.ts';
import { writeFileAtomic } from '../../core/index.ts';
import { parseReference, referenceTarget } from '../../oci/index.ts';
import { attachSBOM } from '../../sbom/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { SIGNER_OPTIONS, signerFrom } from '../keys.ts';

export const sbomCommand: CommandSpec = {
  name: 'sbom',
  usage: 'airlock sbom REF (--key cosign.key | --keyless) [-o sbom.json]',
  description: [
    'For a Flux artifact the SBOM lists every file with its SHA-256; for a Helm chart, the chart, its',
    'dependencies and the container images its values and templates name. The SBOM is attached as a',
    'referrer (application/vnd.cyclonedx+json) and signed as an in-toto attestation in a Sigstore',
    'bundle referrer (predicate https://cyclonedx.org/bom).',
  ].join('\n'),
  examples: [
    'airlock sbom registry.internal/charts/podinfo:6.5.0 --key cosign.key',
    'airlock sbom registry.internal/apps/web:latest --key cosign.key -o web.cdx.json',
    'airlock sbom registry.internal/apps/web:latest --keyless',
  ],
  registry: true,
  options: {
    ...SIGNER_OPTIONS,
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
    const ref = parseReference(refText, { requireTagOrDigest: true });
    const signer = await signerFrom(context);
    const repository = (await context.session()).open(ref);
    const result = await attachSBOM(repository, referenceTarget(ref) ?? '', signer);
    const output = stringOption(values, 'output');
    if (output !== undefined)
      await writeFileAtomic(output, `${JSON.stringify(result.bom, null, 2)}\n`);
    const { bom: _bom, ...summary } = result;
    out.result(
      `SBOM (${result.kind}, ${result.components} components) attached to ${result.reference} as ${result.sbomDigest}; attestation ${result.attestation.bundleDigest}`,
      summary,
    );
    return ExitCode.ok;
  },
};
