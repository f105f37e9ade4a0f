import { AirlockError } from '../../errors.ts';
import {
  applyEnvironmentPromotion,
  formatDuration,
  planEnvironmentPromotion,
  type PromotionPlanItem,
} from '../../promote/index.ts';
import {
  type CommandContext,
  type CommandSpec,
  concurrencyOption,
  type OptionSpec,
  stringOption,
} from '../command.ts';
import { renderBatch } from '../render.ts';

const PLAN_OPTIONS: Record<string, OptionSpec> = {
  to: {
    type: 'string',
    value: 'ENV',
    description:
      'The environment to promote into (the one before it in promotion.yaml is the source).',
  },
  repo: {
    type: 'string',
    value: 'DIR',
    description: 'The releases repository checkout (default the current directory).',
  },
  config: {
    type: 'string',
    value: 'FILE',
    description: 'promotion.yaml (default promotion.yaml in the repository).',
  },
};

function planOptions(context: CommandContext): {
  environment: string;
  root?: string;
  configFile?: string;
  concurrency?: number;
  signal: AbortSignal;
} {
  const { values, positionals } = context;
  if (positionals.length > 0)
    throw new AirlockError('USAGE', 'takes no arguments: name the environment with --to ENV');
  const environment = stringOption(values, 'to');
  if (environment === undefined) throw new AirlockError('USAGE', 'give the environment: --to ENV');
  const root = stringOption(values, 'repo');
  const configFile = stringOption(values, 'config');
  const concurrency = concurrencyOption(values);
  return {
    environment,
    ...(root === undefined ? {} : { root }),
    ...(configFile === undefined ? {} : { configFile }),
    ...(concurrency === undefined ? {} : { concurrency }),
    signal: context.signal,
  };
}

function versionLine(item: PromotionPlanItem): string {
  const from = item.current?.version ?? '(unpinned)';
  const to = item.source.version ?? item.source.semver ?? '?';
  const soak =
    item.soakedMs === undefined ? '' : `, ${formatDuration(item.soakedMs)} in ${item.from}`;
  // A blocked item's reason is printed after the line already (renderBatch): not twice.
  const why = item.decision === 'blocked' ? '' : ` — ${item.reasons.join('; ')}`;
  return `${item.component} ${from} → ${to}${item.updateType ? ` (${item.updateType})` : ''}${item.source.digest ? ` ${item.source.digest.slice(0, 19)}…` : ''}${soak}: ${item.decision}${why}`;
}

export const promotePlanCommand: CommandSpec = {
  name: 'promote plan',
  usage: 'airlock promote plan --to ENV [--repo DIR] [--config promotion.yaml]',
  description: [
    'For each component the previous environment pins (matched by chart or artifact repository):',
    'the version and digest it runs (resolved in the private registry), the update type, how long',
    "it has run there (git history of its pin), the signature check against ENV's policy, and the",
    'decision: auto-merge, needs-review, blocked (with why) or current. Reads only; --json prints',
    'the batch report (docs/json.md, docs/promotion.md).',
  ].join('\n'),
  examples: [
    'airlock promote plan --to test',
    'airlock promote plan --to prod --repo ./software-releases --json',
  ],
  registry: true,
  options: PLAN_OPTIONS,
  async run(context) {
    const { out } = context;
    const session = await context.session();
    const { report } = await planEnvironmentPromotion(session, planOptions(context));
    const count = (decision: string): number =>
      report.items.filter((i) => i.decision === decision).length;
    return renderBatch(out, report, {
      line: versionLine,
      summary: `${count('auto-merge')} auto-merge, ${count('needs-review')} need review, ${count('blocked')} blocked, ${count('current')} current`,
      showAll: true,
    });
  },
};

export const promoteApplyCommand: CommandSpec = {
  name: 'promote apply',
  usage: 'airlock promote apply --to ENV [--repo DIR] [--remote origin]',
  description: [
    'Carries out "promote plan": for each promotable component one branch with one commit that',
    "changes only its pins in ENV's files (comments and formatting kept), pushed to the remote, and",
    'one merge request (GitLab) or pull request (GitHub) with labels, auto-merge where promotion.yaml',
    'allows it, and the evidence in its body. A re-run updates the branch and request, never a',
    'duplicate. Tokens: GITLAB_TOKEN (or CI_JOB_TOKEN) or GITHUB_TOKEN, never printed.',
  ].join('\n'),
  examples: [
    'GITLAB_TOKEN=$RELEASES_BOT_TOKEN airlock promote apply --to test',
    'airlock promote apply --to prod --repo ./software-releases --json',
  ],
  registry: true,
  options: {
    ...PLAN_OPTIONS,
    remote: {
      type: 'string',
      value: 'NAME',
      description: "The git remote to push branches to (default promotion.yaml's forge.remote).",
    },
    base: {
      type: 'string',
      value: 'REF',
      description:
        'The commit promotion branches start from (default HEAD, the target branch checkout).',
    },
    'forge-url': {
      type: 'string',
      value: 'URL',
      env: true,
      description:
        "The forge API the token may be sent to; promotion.yaml's forge.apiURL must have its origin (in CI: CI_API_V4_URL, GITHUB_API_URL).",
    },
    'forge-plain-http': {
      type: 'boolean',
      description: 'Allow an http:// forge API (the token travels in clear): loopback tests only.',
    },
  },
  async run(context) {
    const { values, out, env } = context;
    const session = await context.session();
    const remote = stringOption(values, 'remote');
    const forgeURL = stringOption(values, 'forge-url');
    const base = stringOption(values, 'base');
    const report = await applyEnvironmentPromotion(session, {
      ...planOptions(context),
      env,
      ...(remote === undefined ? {} : { remote }),
      ...(forgeURL === undefined ? {} : { forgeURL }),
      ...(base === undefined ? {} : { base }),
      forgePlainHTTP: values['forge-plain-http'] === true,
      onEvent: ({ item }) => out.progress(`${item.component}: ${item.decision}`),
    });
    const opened = report.items.filter((i) => i.change !== undefined).length;
    return renderBatch(out, report, {
      line: (item) =>
        item.change === undefined
          ? versionLine(item)
          : `${item.component} → ${item.to}: ${item.change.url} (${item.change.state}${item.change.autoMerge ? ', auto-merge' : ''}) on ${item.branch ?? ''}`,
      summary: `${opened} merge requests opened or up to date, ${report.summary.failed} failed`,
      showAll: true,
    });
  },
};
