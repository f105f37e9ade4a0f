import { AirlockError } from '../../errors.ts';
import { escapeControl } from '../../core/index.ts';
import { checkFleet, type FleetCheck } from '../../fleet/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { KUSTOMIZE_BIN_OPTION } from '../fleet-options.ts';

/** One line per finding, per cluster, then a summary line. */
function textOf(check: FleetCheck): string[] {
  const lines: string[] = [];
  let errors = 0;
  let warnings = 0;
  for (const c of check.clusters) {
    const e = c.findings.filter((f) => f.severity === 'error').length;
    const w = c.findings.length - e;
    errors += e;
    warnings += w;
    lines.push(`${escapeControl(c.cluster)}: ${c.objects} objects, ${e} errors, ${w} warnings`);
    for (const f of c.findings)
      lines.push(
        `  ${f.severity} ${f.rule} ${f.object} ${f.field}: ${escapeControl(f.message)}${f.appliedBy === undefined || f.appliedBy === '' ? '' : ` (applied by ${f.appliedBy})`}`,
      );
  }
  lines.push(
    `${check.failed ? 'failed' : 'passed'}: ${check.clusters.length} clusters, ${errors} errors, ${warnings} warnings`,
  );
  return lines;
}

export const fleetCheckCommand: CommandSpec = {
  name: 'fleet check',
  usage:
    'airlock fleet check FLEET_DIR (--cluster NAME | --all) --offline [--kustomize-bin PATH] [--json]',
  description: [
    'Renders each cluster of a fleet as "fleet render --offline" does and checks what it would',
    'apply; each finding names its rule, object, field and the Flux object that applies it:',
    '  verify-missing, verify-key-missing   every OCIRepository verifies with cosign (key Secret',
    '                                       in the rendered set, or a complete matchOIDCIdentity)',
    '  depends-on-missing, depends-on-cycle dependsOn of Kustomizations, HelmReleases, ResourceSets',
    '  ready-expr-invalid                   every readyExpr parses as CEL (as Flux parses it)',
    '  copy-from-missing                    every fluxcd.controlplane.io/copyFrom source exists',
    '  service-account-missing              tenant Flux objects of a multitenant FluxInstance',
    '  flux-instance-invalid                name flux, distribution, OCI sync',
    '  source-unresolved                    (warning) sources the offline render does not follow',
    '',
    '--all checks every directory under clusters/ that holds manifests. Exit 3 when any finding',
    'is an error, 0 when there are only warnings. --offline is required for now: artifacts are',
    'not yet pulled or verified in the registry.',
  ].join('\n'),
  examples: [
    'airlock fleet check ./fleet --all --offline',
    'airlock fleet check ./fleet --cluster prod --offline --json',
  ],
  registry: false,
  options: {
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to check (its directory is clusters/NAME).',
    },
    all: { type: 'boolean', description: 'Check every cluster under clusters/.' },
    offline: {
      type: 'boolean',
      description: 'Check the fleet directory only, without the registry (required for now).',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
  },
  async run({ values, positionals, out, env }) {
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'fleet check takes one FLEET_DIR', {
        details: ['Run "airlock fleet check --help" for usage.'],
      });
    const cluster = stringOption(values, 'cluster');
    const all = values.all === true;
    if ((cluster === undefined || cluster === '') === !all)
      throw new AirlockError(
        'USAGE',
        all ? '--cluster and --all exclude each other' : '--cluster or --all is required',
        {
          details: ['Name one cluster (a directory under clusters/) or check them all with --all.'],
        },
      );
    if (values.offline !== true)
      throw new AirlockError(
        'INPUT_INVALID',
        'online checks (artifacts verified in the registry) are not built yet: use --offline',
        { data: { option: 'offline' } },
      );
    const kustomizeBin = stringOption(values, 'kustomize-bin');
    const check = await checkFleet({
      dir,
      ...(all ? { all: true } : { cluster: cluster ?? '' }),
      offline: true,
      env,
      ...(kustomizeBin === undefined ? {} : { kustomizeBin }),
    });
    out.result(textOf(check), check);
    return check.failed ? ExitCode.refused : ExitCode.ok;
  },
};
