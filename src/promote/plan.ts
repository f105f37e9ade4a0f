// The environment promotion plan (issue 9 §4), pure: promotion.yaml, both environments' pins, when
// each previous pin got its value (git history) and the registry's answers in; one decision per
// component out. run.ts gathers the inputs; apply.ts carries the decisions out.
import { type BatchItem, type ItemError, versionChange } from '../core/index.ts';
import type { EnvironmentConfig, UpdateType } from './config.ts';
import type { Pin } from './pin.ts';

/** auto-merge and needs-review open a merge request; blocked and current do not. */
export type Decision = 'auto-merge' | 'needs-review' | 'blocked' | 'current';

/** What the registry said about one `repository:version` (resolved by run.ts). */
export type RegistryAnswer =
  | {
      readonly digest: string;
      /** The signature check against the target environment's policy. */
      readonly signature:
        | { readonly verified: true; readonly by: string }
        | { readonly verified: false; readonly reason: string }
        | undefined;
    }
  | { readonly error: ItemError };

export interface PinState {
  readonly version?: string;
  readonly digest?: string;
  readonly semver?: string;
  /** `file:line`. */
  readonly where: string;
}

export interface PromotionPlanItem extends BatchItem {
  /** The component's chart or artifact name. */
  readonly component: string;
  /** The match key, shown so a reviewer sees why two pins are one component. */
  readonly repository: string;
  readonly from: string;
  readonly to: string;
  /** What the previous environment runs. */
  readonly source: PinState;
  /** What the target environment runs now (absent: the target does not pin this component). */
  readonly current?: PinState;
  readonly updateType?: UpdateType;
  readonly decision: Decision;
  /** Why, in a reviewer's words: one line per rule that decided. */
  readonly reasons: readonly string[];
  /** When the previous environment's pin got its value (RFC 3339), from git history. */
  readonly since?: string;
  readonly soakedMs?: number;
  readonly requiredSoakMs: number;
  readonly signature?: {
    readonly verified: boolean;
    readonly by?: string;
    readonly reason?: string;
  };
  /** The pins in the target environment this promotion rewrites. */
  readonly pins: readonly Pin[];
}

export interface PlanInput {
  readonly previous: EnvironmentConfig;
  readonly target: EnvironmentConfig;
  readonly previousPins: readonly Pin[];
  readonly targetPins: readonly Pin[];
  /** For each previous pin: when it got its current value (undefined: not committed). */
  readonly since: ReadonlyMap<Pin, Date | undefined>;
  /** Pins whose history cannot be trusted, and why (a symlinked file dates the link, not the value). */
  readonly sinceProblems?: ReadonlyMap<Pin, string>;
  /** Keyed by `registryKey(repository, version)`. */
  readonly registry: ReadonlyMap<string, RegistryAnswer>;
  readonly now: Date;
}

export const registryKey = (repository: string, version: string): string =>
  `${repository}\u0000${version}`;

const where = (pin: Pin): string => `${pin.file}:${pin.line}`;

const state = (pin: Pin): PinState => ({
  ...(pin.version !== undefined ? { version: pin.version } : {}),
  ...(pin.digest !== undefined ? { digest: pin.digest } : {}),
  ...(pin.semver !== undefined ? { semver: pin.semver } : {}),
  where: where(pin),
});

export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  const parts = [days ? `${days}d` : '', hours ? `${hours}h` : '', rest ? `${rest}m` : ''];
  return parts.join('') || '0m';
}

/**
 * One item per component the previous environment pins. A component is the set of pins with one
 * repository; the previous environment's first pin (in file order) is what is promoted, and every
 * target pin of that repository is rewritten to it.
 */
export function planPromotion(input: PlanInput): PromotionPlanItem[] {
  const targetByRepository = new Map<string, Pin[]>();
  for (const pin of input.targetPins) {
    const list = targetByRepository.get(pin.repository) ?? [];
    list.push(pin);
    targetByRepository.set(pin.repository, list);
  }
  const sourcesByRepository = new Map<string, Pin[]>();
  for (const pin of input.previousPins)
    sourcesByRepository.set(pin.repository, [
      ...(sourcesByRepository.get(pin.repository) ?? []),
      pin,
    ]);
  return [...sourcesByRepository.values()].map((sources) =>
    decide(input, sources, targetByRepository.get(sources[0]?.repository ?? '') ?? []),
  );
}

const RANK: Readonly<Record<string, number>> = { patch: 1, minor: 2, major: 3 };

function decide(
  input: PlanInput,
  sources: readonly Pin[],
  pins: readonly Pin[],
): PromotionPlanItem {
  const { previous, target } = input;
  const source = sources[0] as Pin;
  const current = pins[0];
  const base = {
    reference: `${source.repository}:${source.version ?? source.semver ?? '?'}`,
    component: source.component,
    repository: source.repository,
    from: previous.name,
    to: target.name,
    source: state(source),
    ...(current ? { current: state(current) } : {}),
    requiredSoakMs: target.soakMs,
    pins,
    bytes: 0,
    durationMs: 0,
  };
  const blocked = (reason: string, extra: object = {}): PromotionPlanItem => ({
    ...base,
    ...extra,
    outcome: 'skipped',
    reason: `blocked: ${reason}`,
    decision: 'blocked',
    reasons: [reason],
  });
  const disagree = sources.find((p) => p.version !== source.version || p.semver !== source.semver);
  if (disagree)
    return blocked(
      `${previous.name} pins ${source.repository} twice with different versions (${source.version ?? source.semver ?? '?'} at ${where(source)}, ${disagree.version ?? disagree.semver ?? '?'} at ${where(disagree)}): promote one version`,
    );
  if (source.version === undefined)
    return blocked(
      source.semver === undefined
        ? `${previous.name} pins only a digest at ${where(source)}: promotion carries a version (a tag) with its digest, so pin the tag too`
        : `${previous.name} follows the range ${source.semver} at ${where(source)}, not an exact version: pin one to promote it`,
    );
  if (current === undefined)
    return blocked(
      `${target.name} does not pin ${source.repository}: add it to ${target.name}'s manifests first (promotion changes pins, it does not create releases)`,
    );
  const floating = pins.find((p) => p.version === undefined);
  if (floating)
    return blocked(
      `${target.name} follows the range ${floating.semver ?? '?'} at ${where(floating)}: promotion writes exact pins only`,
    );
  const answer = input.registry.get(registryKey(source.repository, source.version));
  if (answer === undefined || 'error' in answer)
    return {
      ...base,
      outcome: 'failed',
      decision: 'blocked',
      reasons: [answer?.error.message ?? 'not resolved'],
      error: answer?.error ?? {
        code: 'INTERNAL',
        message: `${base.reference} was not resolved`,
        details: [],
      },
    };
  const digest = answer.digest;
  const version = source.version;
  // Every target pin of the component moves to the source's version: the step is the largest of
  // theirs, and any pin already newer makes it a downgrade.
  const changes = pins.map((p) => ({ pin: p, change: versionChange(p.version ?? '', version) }));
  const sameVersion = changes.every((c) => c.pin.version === version || c.change === 'same');
  // Only pins that can carry a digest count (a HelmRelease version has none).
  const digestDiffers = pins.some(
    (p) =>
      p.digestPath !== undefined &&
      (p.digest !== undefined || target.pinDigests) &&
      p.digest !== digest,
  );
  const withDigest = { source: { ...base.source, digest } };
  if (sameVersion && !digestDiffers)
    return {
      ...base,
      ...withDigest,
      outcome: 'present',
      reason: `${target.name} runs ${version}`,
      decision: 'current',
      reasons: [`${target.name} already runs ${version}`],
    };
  const newer = changes.find((c) => c.change === 'downgrade');
  if (newer)
    return blocked(
      `${previous.name} runs ${version}, older than ${target.name}'s ${newer.pin.version ?? '?'} at ${where(newer.pin)}: a downgrade is not a promotion`,
      withDigest,
    );
  const steps = changes.filter((c) => c.pin.version !== version && c.change !== 'same');
  const unknown = steps.find((c) => c.change === undefined);
  const updateType: UpdateType = sameVersion
    ? 'digest'
    : unknown
      ? 'major'
      : steps.reduce<UpdateType>(
          (top, c) =>
            (RANK[c.change ?? ''] ?? 0) > (RANK[top] ?? 0) ? (c.change as UpdateType) : top,
          'patch',
        );
  const change = unknown ? undefined : updateType;
  const sinceDate = input.since.get(source);
  const typed = { ...withDigest, updateType };
  const signature = answer.signature;
  const signatureField =
    signature === undefined
      ? {}
      : {
          signature: signature.verified
            ? { verified: true, by: signature.by }
            : { verified: false, reason: signature.reason },
        };
  const soakedMs = sinceDate ? input.now.getTime() - sinceDate.getTime() : undefined;
  const timing = {
    ...(sinceDate ? { since: sinceDate.toISOString() } : {}),
    ...(soakedMs !== undefined ? { soakedMs } : {}),
  };
  const reasons: string[] = [];
  if (change === undefined && !sameVersion)
    reasons.push(
      `${unknown?.pin.version ?? '?'} → ${version} is not a semver step: treated as major`,
    );
  if (signature !== undefined && !signature.verified)
    return blocked(`the signature does not pass ${target.name}'s policy: ${signature.reason}`, {
      ...typed,
      ...signatureField,
      ...timing,
    });
  if (signature?.verified === true) reasons.push(`signed by ${signature.by}`);
  if (target.soakMs > 0) {
    const problem = input.sinceProblems?.get(source);
    if (problem !== undefined)
      return blocked(`the soak time in ${previous.name} is unknown: ${problem}`, {
        ...typed,
        ...signatureField,
      });
    if (sinceDate === undefined)
      return blocked(
        `${source.version} is not committed in ${previous.name} yet (${where(source)}), so its soak time is unknown`,
        { ...typed, ...signatureField, ...timing },
      );
    if ((soakedMs ?? 0) < target.soakMs)
      return blocked(
        `soaking: ${formatDuration(soakedMs ?? 0)} of ${formatDuration(target.soakMs)} in ${previous.name} (since ${sinceDate.toISOString()})`,
        { ...typed, ...signatureField, ...timing },
      );
    reasons.push(
      `ran ${formatDuration(soakedMs ?? 0)} in ${previous.name} (at least ${formatDuration(target.soakMs)} required)`,
    );
  }
  const auto = target.autoMerge.includes(updateType);
  reasons.push(
    auto
      ? `${updateType} updates auto-merge into ${target.name}`
      : `${updateType} updates into ${target.name} need review (autoMerge: ${target.autoMerge.join(', ') || 'none'})`,
  );
  return {
    ...base,
    ...typed,
    ...signatureField,
    ...timing,
    outcome: 'skipped',
    reason: 'planned',
    decision: auto ? 'auto-merge' : 'needs-review',
    reasons,
  };
}
