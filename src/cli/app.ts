import type { Readable } from 'node:stream';
import { AirlockError, toAirlockError } from '../errors.ts';
import type { Session } from '../session/index.ts';
import type { CommandSpec } from './command.ts';
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { Output, type Streams } from './output.ts';
import { closest } from './suggest.ts';

export const VERSION = '0.1.0';

/**
 * The command table: names and one-line summaries here, everything else in the command's own
 * module, imported only when that command runs (or shows its help). `airlock --help` therefore
 * loads no library code at all (issue 8 §4: start-up within 3× of bare Node).
 */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandSpec>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'mirror',
    summary: 'Mirror the charts a CSV inventory lists into the private registry, signed',
    load: async () => (await import('./commands/mirror.ts')).mirrorCommand,
  },
  {
    name: 'artifact push',
    summary: "Push a directory (or a chart's CRDs) as a Flux OCI artifact",
    load: async () => (await import('./commands/artifact-push.ts')).artifactPushCommand,
  },
  {
    name: 'artifact build',
    summary: 'Build a Flux artifact layer (.tgz) from a directory, byte for byte reproducible',
    load: async () => (await import('./commands/artifact.ts')).artifactBuild,
  },
  {
    name: 'artifact pull',
    summary: 'Pull a Flux artifact and extract it safely',
    load: async () => (await import('./commands/artifact.ts')).artifactPull,
  },
  {
    name: 'artifact diff',
    summary: 'Compare a directory with a Flux artifact (exit 1 when they differ)',
    load: async () => (await import('./commands/artifact.ts')).artifactDiff,
  },
  {
    name: 'artifact list',
    summary: 'List Flux artifacts in a repository with their source and revision',
    load: async () => (await import('./commands/artifact.ts')).artifactList,
  },
  {
    name: 'artifact tag',
    summary: 'Alias of "airlock tag" (TAGs as arguments or --tag)',
    load: async () => (await import('./commands/registry-ops.ts')).artifactTagCommand,
  },
  {
    name: 'promote tag',
    summary: 'Promote the exact digest a tag names to new tags: verified, re-signed, attested',
    load: async () => (await import('./commands/promote-tag.ts')).promoteTagCommand,
  },
  {
    name: 'promote log',
    summary: "List an artifact's promotions from its verified promotion attestations",
    load: async () => (await import('./commands/promote-tag.ts')).promoteLogCommand,
  },
  {
    name: 'promote plan',
    summary: 'Plan what moves into an environment of the releases repository, and why',
    load: async () => (await import('./commands/promote-env.ts')).promotePlanCommand,
  },
  {
    name: 'promote apply',
    summary: 'Open one merge request per promotable pin of an environment',
    load: async () => (await import('./commands/promote-env.ts')).promoteApplyCommand,
  },
  {
    name: 'release',
    summary: 'Release COMPONENT/VERSION: promote the tested latest to VERSION and latest-stable',
    load: async () => (await import('./commands/release.ts')).releaseCommand,
  },
  {
    name: 'renovate config',
    summary: "Write the releases repository's renovate.json from promotion.yaml",
    load: async () => (await import('./commands/renovate.ts')).renovateConfigCommand,
  },
  {
    name: 'fleet build resourceset',
    summary: 'Build a ResourceSet offline, byte for byte as flux-operator build resourceset',
    load: async () => (await import('./commands/fleet.ts')).fleetBuildResourceSetCommand,
  },
  {
    name: 'fleet render',
    summary:
      'Render what one cluster of a fleet runs, grouped by the Flux object that applies it (offline for now)',
    load: async () => (await import('./commands/fleet-render.ts')).fleetRenderCommand,
  },
  {
    name: 'fleet check',
    summary:
      'Check a fleet per cluster: verify policies, dependsOn, copyFrom, tenancy (exit 3 on findings)',
    load: async () => (await import('./commands/fleet-check.ts')).fleetCheckCommand,
  },
  {
    name: 'fleet graph',
    summary: "Print a cluster's dependsOn graph as phases (text, Mermaid or DOT)",
    load: async () => (await import('./commands/fleet-graph.ts')).fleetGraphCommand,
  },
  {
    name: 'fleet init',
    summary:
      'Write a new fleet repository for the isolated architecture (clusters, phases, policies)',
    load: async () => (await import('./commands/fleet-init.ts')).fleetInitCommand,
  },
  {
    name: 'bundle create',
    summary: 'Pack signed artifacts, their signatures and referrers into a signed air-gap bundle',
    load: async () => (await import('./commands/bundle.ts')).bundleCreateCommand,
  },
  {
    name: 'bundle verify',
    summary: 'Verify a bundle offline: its signature, every blob, every artifact signature',
    load: async () => (await import('./commands/bundle.ts')).bundleVerifyCommand,
  },
  {
    name: 'bundle import',
    summary: 'Verify a bundle, then push it into the private registry (resumable)',
    load: async () => (await import('./commands/bundle.ts')).bundleImportCommand,
  },
  {
    name: 'bundle pack',
    summary: 'Cut a bundle into fixed-size chunks with a signed chunk list, for removable media',
    load: async () => (await import('./commands/bundle.ts')).bundlePackCommand,
  },
  {
    name: 'bundle unpack',
    summary: 'Reassemble a packed bundle, verifying each chunk (resumable)',
    load: async () => (await import('./commands/bundle.ts')).bundleUnpackCommand,
  },
  {
    name: 'images rewrite',
    summary: 'Print where images are pulled from under the pull-through cache rules (cache.yaml)',
    load: async () => (await import('./commands/images.ts')).imagesRewriteCommand,
  },
  {
    name: 'images mirror',
    summary:
      'Mirror container images below REGISTRY/PREFIX/<registry>/<repository>, shared layers once',
    load: async () => (await import('./commands/images.ts')).imagesMirrorCommand,
  },
  {
    name: 'images list',
    summary: 'List the images a chart or a cluster of a fleet will pull, with where each was found',
    load: async () => (await import('./commands/images-list.ts')).imagesListCommand,
  },
  {
    name: 'policy kyverno',
    summary: 'Write the Kyverno ClusterPolicy that rewrites pod images to the pull-through cache',
    load: async () => (await import('./commands/policy.ts')).policyKyvernoCommand,
  },
  {
    name: 'policy cilium',
    summary:
      'Write one CiliumNetworkPolicy per namespace of a cluster: egress closed but for its needs',
    load: async () => (await import('./commands/policy.ts')).policyCiliumCommand,
  },
  {
    name: 'chart push',
    summary: 'Push packaged Helm charts as Helm OCI artifacts',
    load: async () => (await import('./commands/chart.ts')).chartPush,
  },
  {
    name: 'chart pull',
    summary: "Pull a Helm chart's exact .tgz from an OCI registry",
    load: async () => (await import('./commands/chart.ts')).chartPull,
  },
  {
    name: 'chart package',
    summary: 'Package a chart directory as a deterministic .tgz',
    load: async () => (await import('./commands/chart.ts')).chartPackage,
  },
  {
    name: 'key generate',
    summary: 'Generate a cosign key pair (cosign.key encrypted, cosign.pub)',
    load: async () => (await import('./commands/key.ts')).keyGenerate,
  },
  {
    name: 'key import',
    summary: 'Import an unencrypted PKCS#8 or SEC1 key as an encrypted cosign key pair',
    load: async () => (await import('./commands/key.ts')).keyImport,
  },
  {
    name: 'key secret',
    summary: 'Print the Kubernetes Secret Flux reads public keys from (entry cosign.pub)',
    load: async () => (await import('./commands/key.ts')).keySecret,
  },
  {
    name: 'sign',
    summary:
      'Sign artifacts with a cosign key or keylessly (cosign legacy format, read by every cosign and Flux)',
    load: async () => (await import('./commands/sign.ts')).signCommand,
  },
  {
    name: 'verify',
    summary: 'Verify cosign signatures and Sigstore bundles (exit 3 when nothing verifies)',
    load: async () => (await import('./commands/verify.ts')).verifyCommand,
  },
  {
    name: 'sbom',
    summary: 'Attach a CycloneDX SBOM to an artifact and sign it as an in-toto attestation',
    load: async () => (await import('./commands/sbom.ts')).sbomCommand,
  },
  {
    name: 'copy',
    summary: 'Copy artifacts between registries and OCI layouts, verifying every digest',
    load: async () => (await import('./commands/copy.ts')).copyCommand,
  },
  {
    name: 'tag',
    summary: 'Point more tags at the artifact a reference names',
    load: async () => (await import('./commands/registry-ops.ts')).tagCommand,
  },
  {
    name: 'ls',
    summary: 'List the tags of a repository',
    load: async () => (await import('./commands/registry-ops.ts')).lsCommand,
  },
  {
    name: 'inspect',
    summary: 'Show an artifact: digest, media types, layers, annotations',
    load: async () => (await import('./commands/registry-ops.ts')).inspectCommand,
  },
  {
    name: 'gc',
    summary: 'Delete blobs no tagged manifest of an OCI layout references',
    load: async () => (await import('./commands/registry-ops.ts')).gcCommand,
  },
  {
    name: 'login',
    summary: 'Check and store registry credentials (docker config.json format)',
    load: async () => (await import('./commands/login.ts')).loginCommand,
  },
  {
    name: 'logout',
    summary: 'Remove stored registry credentials',
    load: async () => (await import('./commands/login.ts')).logoutCommand,
  },
];

export interface RunEnvironment extends Streams {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: Readable;
  /** Aborts the running command (the bin wires it to SIGINT and SIGTERM). */
  readonly signal?: AbortSignal;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'airlock: the supply chain for GitOps in isolated and regulated Kubernetes',
    '',
    'Usage: airlock <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json, --verbose and --help. Exit status: 0 ok, 1 failure,',
    '2 usage or invalid input, 3 verification or policy refused.',
    'Run "airlock <command> --help" for a command\'s flags and examples.',
  ].join('\n');
}

/** Runs the CLI in-process and returns the exit status (the bin only sets process.exitCode). */
export async function runCLI(
  argv: readonly string[],
  environment: RunEnvironment,
): Promise<number> {
  const [verb, ...rest] = [...argv];
  const stdout = environment.stdout;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const target = verb === 'help' ? COMMANDS.find((c) => c.name === rest.join(' ')) : undefined;
    if (target) {
      const { commandHelp } = await import('./command.ts');
      stdout.write(`${commandHelp(target.summary, await target.load())}\n`);
    } else stdout.write(`${mainHelp()}\n`);
    return verb === undefined ? ExitCode.invalidInput : ExitCode.ok;
  }
  if (verb === '--version' || verb === 'version') {
    stdout.write(`airlock ${VERSION}\n`);
    return ExitCode.ok;
  }
  const wantsJSON = rest.includes('--json');
  const out = new Output(environment, {
    json: wantsJSON,
    verbose: rest.includes('--verbose') || rest.includes('-v'),
  });
  // Command groups ("artifact push", "fleet build resourceset") are looked up by their longest
  // matching prefix of words, three at most.
  const named = (count: number): CommandEntry | undefined => {
    const words = [verb, ...rest.slice(0, count - 1)];
    return words.length === count ? COMMANDS.find((c) => c.name === words.join(' ')) : undefined;
  };
  const grouped = named(3) ?? named(2);
  const entry = grouped ?? COMMANDS.find((c) => c.name === verb);
  if (grouped) rest.splice(0, grouped.name.split(' ').length - 1);
  if (!entry) {
    const members = COMMANDS.filter((c) => c.name.startsWith(`${verb} `));
    if (members.length > 0) {
      const sub = rest[0];
      const guess =
        sub === undefined || sub.startsWith('-')
          ? undefined
          : closest(
              `${verb} ${sub}`,
              members.map((c) => c.name),
            );
      const error = new AirlockError(
        'USAGE',
        sub === undefined || sub.startsWith('-')
          ? `"airlock ${verb}" needs a subcommand`
          : `unknown command "airlock ${verb} ${sub}"`,
        {
          details: [
            ...(guess === undefined ? [] : [`Did you mean "airlock ${guess}"?`]),
            ...members.map((c) => `airlock ${c.name}: ${c.summary}`),
          ],
        },
      );
      out.error(error, ExitCode.invalidInput);
      return ExitCode.invalidInput;
    }
    const words = [...new Set(COMMANDS.flatMap((c) => [c.name, c.name.split(' ')[0] ?? c.name]))];
    const twoWords = rest[0] === undefined ? verb : `${verb} ${rest[0]}`;
    const guess = closest(twoWords, words) ?? closest(verb, words);
    const error = new AirlockError('USAGE', `unknown command "${verb}"`, {
      details: [
        ...(guess === undefined ? [] : [`Did you mean "airlock ${guess}"?`]),
        `Commands: ${COMMANDS.map((c) => c.name).join(', ')}.`,
      ],
    });
    out.error(error, ExitCode.invalidInput);
    return ExitCode.invalidInput;
  }
  let session: Session | undefined;
  try {
    // Only the command that runs is loaded, with the library modules it imports.
    const [spec, { buildSession, commandHelp, parseCommandArgs }] = await Promise.all([
      entry.load(),
      import('./command.ts'),
    ]);
    const { values, positionals } = parseCommandArgs(spec, rest, environment.env);
    if (values.help === true) {
      stdout.write(`${commandHelp(entry.summary, spec)}\n`);
      return ExitCode.ok;
    }
    let pending: Promise<Session> | undefined;
    return await spec.run({
      values,
      positionals,
      out,
      env: environment.env,
      stdin: environment.stdin,
      signal: environment.signal ?? new AbortController().signal,
      session: () => {
        pending ??= buildSession(values, environment.env, environment.stdin).then(
          (s) => (session = s),
        );
        return pending;
      },
    });
  } catch (caught) {
    const error = toAirlockError(caught);
    const exit = exitCodeFor(error.code);
    out.error(error, exit);
    return exit;
  } finally {
    session?.close();
  }
}
