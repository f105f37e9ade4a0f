// Provenance: where pushed content comes from (source and revision) and which CI run pushed it.
// It stands beside oci and knows nothing of artifacts (eslint.config.js): facts in, strings out.
import { AirlockError } from '../errors.ts';
import { ciContext, type Environment, provenanceAnnotations } from './ci.ts';
import { gitProvenance } from './git.ts';

export {
  CI_ANNOTATION_PREFIX,
  ciContext,
  type CIContext,
  type CIPlatform,
  type Environment,
  fluxRevision,
  provenanceAnnotations,
} from './ci.ts';
export { type GitProvenance, gitProvenance, webURL } from './git.ts';

export interface ProvenanceRequest {
  /** Given explicitly (a flag): wins over everything. */
  readonly source?: string;
  readonly revision?: string;
  /** The process environment, read for GitHub Actions and GitLab CI variables. */
  readonly env: Environment;
  /** The pushed directory: its git checkout is the last resort. Without it, no git fallback. */
  readonly dir?: string;
}

export interface Provenance {
  readonly source: string;
  readonly revision: string;
  /** The CI run (`dev.airlock.ci.*`), when the push runs in a CI job; else empty. */
  readonly annotations: Record<string, string>;
  /** Where the source and revision came from (`flags` when both were given). */
  readonly from: 'flags' | 'github-actions' | 'gitlab-ci' | 'git';
}

/**
 * The source and revision of a push: what was given explicitly wins; what is missing comes from
 * the CI job's variables (ciContext), else from the git checkout of `dir` (gitProvenance). A CI
 * job also records its run as annotations, even when both values were given. Nothing found is
 * INPUT_INVALID naming the missing option; a CI platform with missing variables is refused
 * rather than guessed past.
 */
export async function resolveProvenance(request: ProvenanceRequest): Promise<Provenance> {
  const given = { source: request.source, revision: request.revision };
  const complete = given.source !== undefined && given.revision !== undefined;
  // With both values given, a CI job whose variables are incomplete only loses its annotations.
  let ci;
  try {
    ci = ciContext(request.env);
  } catch (error) {
    if (!complete) throw error;
  }
  const annotations = ci === undefined ? {} : provenanceAnnotations(ci);
  if (given.source !== undefined && given.revision !== undefined)
    return { source: given.source, revision: given.revision, annotations, from: 'flags' };
  if (ci !== undefined)
    return {
      source: given.source ?? ci.source,
      revision: given.revision ?? ci.revision,
      annotations,
      from: ci.platform,
    };
  if (request.dir === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      'no source and revision: give them, or push from a CI job or a git checkout',
      { data: { option: given.source === undefined ? 'source' : 'revision' } },
    );
  const fromGit = await gitProvenance(request.dir);
  const source = given.source ?? fromGit.source;
  if (source === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${request.dir}: the git checkout has no "origin" remote with a URL to record as the source`,
      {
        details: ['Give the source explicitly, or add the remote: git remote add origin URL.'],
        data: { option: 'source' },
      },
    );
  return { source, revision: given.revision ?? fromGit.revision, annotations, from: 'git' };
}
