// `policy kyverno` (issue 12 §3): a Kyverno ClusterPolicy that rewrites pod images at admission by
// the cache rules, so a chart that names quay.io or Docker Hub is pulled from the private
// pull-through cache while the chart's bytes (and their signatures) stay as they were
// (../shared/reference/peers.md §8 item 8).
//
// The policy applies rewriteImage's mapping (rewrite.ts), not an approximation of it. Kyverno's own
// image helpers are not used, because they read images differently (kyverno v1.18.2
// pkg/utils/image/infos.go GetImageInfo): `nginx` has the path `nginx` (no `library/`), the
// registry of an image without one depends on the cluster's `defaultRegistry` and
// `enableDefaultRegistryMutation` settings, and image_normalize drops the tag of a
// `name:tag@digest` reference. So each container's reference is normalised in the policy itself,
// by three JMESPath context variables built only from Kyverno's regex_replace_all, regex_match,
// to_lower and JMESPath's join (RE2 syntax without a backslash, so no layer of YAML, JMESPath or
// Kyverno's `{{ }}` substitution can change a pattern):
//
//   airlockValid       the reference is one normalizeImage accepts (reference.ts grammar, except
//                      the 255-character path limit, which no regular expression here can count);
//   airlockRef         the registry split off as distribution does (the first component names a
//                      registry when it has "." or ":" or an upper-case letter, or is localhost;
//                      otherwise docker.io), and `library/` added to a one-component Docker Hub
//                      path (docker.io or index.docker.io as written);
//   airlockNormalized  the host lower-cased with Docker Hub's aliases as docker.io (registryKey),
//                      and `:latest` when the reference has neither tag nor digest.
//
// One rule per upstream registry then rewrites `<upstream>/<path>` to `<to>/<path>` unless the
// image is already under some rule's `to` or its rewritten path would pass 255 characters, exactly
// as rewriteImage decides; kyverno.test.ts runs
// the generated rules over the rewrite corpus and compares every result with rewriteImage.
//
// Pods and pod controllers are written out as explicit rules, with Kyverno's autogen turned off
// (pod-policies.kyverno.io/autogen-controllers: none). Autogen cannot carry these rules: it skips
// every rule with a JSON patch (kyverno v1.18.2 pkg/autogen/v1/autogen.go CanAutoGen), and the
// patches here are JSON patches by element index, which replace one `image` field and nothing
// else: a strategic merge patch on ephemeralContainers or initContainers depends on the merge keys
// of the schema Kyverno embeds. Explicit rules also make the policy that is validated against the
// CRD (test/data/crds) the policy that runs, on every Kyverno version. Controllers are rewritten
// as well as Pods so the object a cluster stores names the image it runs (Flux's drift detection
// and `kubectl get` show the cache path); the Pod rule alone would be enough to keep pulls inside.
// ReplicaSets are rewritten only when nothing owns them: a Deployment's ReplicaSets copy its
// (already rewritten) template, and one rewritten away from a Deployment created before the
// policy would make the deployment controller create ReplicaSets in a loop. (Kyverno's default
// resourceFilters skip ReplicaSets altogether, and kube-system.)
//
// Verification ordering (kyverno#4655, ../shared/reference/peers.md §6): until Kyverno 1.8.2
// verifyImages ran before mutate rules and checked the reference as written. Since then
// (kyverno#4996; kyverno v1.18.2 pkg/webhooks/resource/handlers.go Mutate) Kyverno applies every
// mutate policy of a request first and runs verifyImages on the patched request, so a verifyImages
// rule sees the rewritten, private reference: its imageReferences must name the cache paths
// (`registry.internal/dockerhub/*`), or it matches nothing and every image passes unverified; the
// signatures must be found there (mirror images with airlock, which signs the mirrored digest, or
// make sure the cache proxies the `.sig` tags and referrers); and mutateDigest pins the private
// reference. This policy verifies nothing itself and keeps digests, so a chart that pins
// `image@sha256:…` upstream pulls exactly those bytes from the cache, whatever verifies them.
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { marshalGoYAML, parseGoYAML } from '../goyaml/index.ts';
import { type CacheConfig, readCacheConfig } from './cache.ts';
import { MAX_PATH_LENGTH } from './reference.ts';

export interface KyvernoPolicyOptions {
  /** metadata.name of the ClusterPolicy (default `airlock-image-cache`). */
  readonly name?: string;
}

export interface KyvernoPolicy {
  /** The ClusterPolicy as a JSON object (kyverno.io/v1). */
  readonly policy: Record<string, unknown>;
  /** The same object as YAML (sigs.k8s.io/yaml, as kubectl reads it), after a comment header. */
  readonly yaml: string;
}

export const DEFAULT_KYVERNO_POLICY_NAME = 'airlock-image-cache';

/** The annotation that turns off Kyverno's rule generation for pod controllers. */
export const AUTOGEN_ANNOTATION = 'pod-policies.kyverno.io/autogen-controllers';

/** Where the pod spec sits, per group of kinds one foreach list covers. */
const POD_SPECS = [
  {
    kinds: ['Pod', 'Pod/ephemeralcontainers'],
    path: ['spec'],
    lists: ['containers', 'initContainers', 'ephemeralContainers'],
  },
  {
    // Pod templates cannot hold ephemeral containers (the API refuses them there).
    kinds: ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'],
    path: ['spec', 'template', 'spec'],
    lists: ['containers', 'initContainers'],
  },
  {
    kinds: ['CronJob'],
    path: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
    lists: ['containers', 'initContainers'],
  },
] as const;
const REPLICASET_SPEC = {
  path: ['spec', 'template', 'spec'],
  lists: ['containers', 'initContainers'],
};

// The reference grammar of reference.ts as RE2 (Go) and ECMAScript read alike: no backslash, "."
// as [.], "[" as [[], "]" outside a class as itself.
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const HOST = `(?:${LABEL}(?:[.]${LABEL})*|[[][a-fA-F0-9:]+])(?::[0-9]+)?`;
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
/** A first component that cannot name a registry: no ".", ":" or upper case, not a host. */
const NAMESPACE_COMPONENT = '[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*';
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = '(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})';
/** An image reference normalizeImage accepts (but for the 255-character path limit). */
export const VALID_IMAGE_PATTERN = `^(?:${HOST}/${COMPONENT}(?:/${COMPONENT})*|${NAMESPACE_COMPONENT}(?:/${COMPONENT})+|${COMPONENT})(?::${TAG})?(?:@${DIGEST})?$`;
/** A bare image ID, which normalizeImage refuses as a name. */
const IDENTIFIER_PATTERN = '^[a-f0-9]{64}$';

/** Kyverno context variables, in the order they are loaded (each may use the ones before). */
const VALID = 'airlockValid';
const REF = 'airlockRef';
const NORMALIZED = 'airlockNormalized';

const CONTEXT = [
  {
    name: VALID,
    variable: {
      jmesPath: `regex_match('${VALID_IMAGE_PATTERN}', element.image) && !regex_match('${IDENTIFIER_PATTERN}', element.image)`,
      default: false,
    },
  },
  {
    // Registry split off ("/" first when the reference names none), Docker Hub filled in, and
    // library/ before a one-component path on docker.io or index.docker.io as written.
    name: REF,
    variable: {
      jmesPath: [
        "regex_replace_all('^(?:docker[.]io|index[.]docker[.]io)/([^/:@]+)([:@][^/]*)?$', ",
        "regex_replace_all('^/', ",
        "regex_replace_all('^(?:([^/]*[.:A-Z][^/]*|localhost)/(.*)|(.*))$', element.image, '${1}/${2}${3}'), ",
        "'docker.io/'), 'docker.io/library/${1}${2}')",
      ].join(''),
      default: '',
    },
  },
  {
    // The host lower-cased, Docker Hub's aliases as docker.io, then :latest when there is
    // neither tag nor digest (nothing after the last "/" holds ":" or "@").
    name: NORMALIZED,
    variable: {
      jmesPath: [
        "regex_replace_all('^(.*/[^/:@]+)$', join('', [",
        "regex_replace_all('^(?:index[.]docker[.]io|registry-1[.]docker[.]io)$', to_lower(regex_replace_all('/.*$', airlockRef, '')), 'docker.io'), ",
        "regex_replace_all('^[^/]*', airlockRef, '')",
        "]), '${1}:latest')",
      ].join(''),
      default: '',
    },
  },
];

/** A host[/path] as a regular expression matching itself only (see the grammar note above). */
export function literalPattern(text: string): string {
  if (!/^[A-Za-z0-9._:/[\]-]*$/.test(text))
    throw new AirlockError(
      'INTERNAL',
      `${escapeControl(text)} has characters no registry host or path has`,
    );
  return text.replace(/[.[]/g, (c) => `[${c}]`);
}

/** A DNS label from an upstream host, for rule names (`docker.io` → `docker-io`). */
const slug = (host: string): string =>
  host
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '') || 'registry';

/** metadata.name of a cluster-scoped object: a DNS-1123 subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Json = Record<string, unknown>;

function foreachFor(
  specPath: readonly string[],
  list: string,
  upstream: string,
  to: string,
  privatePattern: string,
): Json {
  const pointer = `/${specPath.join('/')}/${list}`;
  // rewriteImage refuses a rewritten name whose path would pass 255 characters.
  const slash = to.indexOf('/');
  const longest = MAX_PATH_LENGTH - (slash < 0 ? 0 : to.length - slash);
  return {
    list: `request.object.${specPath.join('.')}.${list}`,
    context: CONTEXT,
    preconditions: {
      all: [
        { key: `{{ ${VALID} }}`, operator: 'Equals', value: true },
        {
          key: `{{ regex_match('^${literalPattern(upstream)}/', ${NORMALIZED}) }}`,
          operator: 'Equals',
          value: true,
        },
        {
          key: `{{ regex_match('${privatePattern}', ${NORMALIZED}) }}`,
          operator: 'Equals',
          value: false,
        },
        {
          key: `{{ length(regex_replace_all('^[^/]*/([^:@]*).*$', ${NORMALIZED}, '\${1}')) }}`,
          operator: 'LessThanOrEquals',
          value: longest,
        },
      ],
    },
    patchesJson6902: [
      '- op: replace',
      `  path: ${pointer}/{{ elementIndex }}/image`,
      `  value: "{{ regex_replace_all('^${literalPattern(upstream)}/', ${NORMALIZED}, '${to}/') }}"`,
      '',
    ].join('\n'),
  };
}

/**
 * The ClusterPolicy that rewrites the images of Pods (containers, initContainers,
 * ephemeralContainers, also when `kubectl debug` adds one) and of Deployments, StatefulSets,
 * DaemonSets, Jobs, CronJobs and unowned ReplicaSets by the cache rules, exactly as rewriteImage
 * maps them: two rules per cache rule (`cache-<upstream>`, `cache-<upstream>-replicasets`),
 * admission only (CREATE and UPDATE), failing closed (a request Kyverno cannot answer is refused
 * rather than admitted with a public image). INPUT_INVALID for a name that is not a DNS subdomain.
 */
export function kyvernoPolicy(
  cache: CacheConfig,
  options: KyvernoPolicyOptions = {},
): KyvernoPolicy {
  const name = options.name ?? DEFAULT_KYVERNO_POLICY_NAME;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    throw new AirlockError(
      'INPUT_INVALID',
      `policy name ${JSON.stringify(escapeControl(name))} is not a DNS subdomain (lower-case letters, digits, "-" and ".")`,
      { data: { option: 'policyName' } },
    );
  // An image under any rule's `to` is left alone (rewriteImage's `private`): the path itself, or
  // a path below it, or the path with a tag or digest.
  const privatePattern = `^(?:${cache.rules.map((r) => literalPattern(r.to)).join('|')})(?:/|[:@][^/]*$)`;
  const used = new Set<string>();
  const rules: Json[] = [];
  for (const rule of cache.rules) {
    let base = `cache-${slug(rule.upstream)}`;
    for (let n = 2; used.has(base); n++) base = `cache-${slug(rule.upstream)}-${n}`;
    used.add(base);
    rules.push({
      name: base,
      match: {
        any: [
          {
            resources: {
              kinds: POD_SPECS.flatMap((s) => s.kinds),
              operations: ['CREATE', 'UPDATE'],
            },
          },
        ],
      },
      mutate: {
        foreach: POD_SPECS.flatMap((s) =>
          s.lists.map((list) => foreachFor(s.path, list, rule.upstream, rule.to, privatePattern)),
        ),
      },
    });
    rules.push({
      name: `${base}-replicasets`,
      match: { any: [{ resources: { kinds: ['ReplicaSet'], operations: ['CREATE', 'UPDATE'] } }] },
      preconditions: {
        all: [
          {
            key: '{{ length(request.object.metadata.ownerReferences || `[]`) }}',
            operator: 'Equals',
            value: 0,
          },
        ],
      },
      mutate: {
        foreach: REPLICASET_SPEC.lists.map((list) =>
          foreachFor(REPLICASET_SPEC.path, list, rule.upstream, rule.to, privatePattern),
        ),
      },
    });
  }
  const mapping = cache.rules.map((r) => `${r.upstream} → ${r.to}`).join(', ');
  const policy: Json = {
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/managed-by': 'airlock' },
      annotations: {
        [AUTOGEN_ANNOTATION]: 'none',
        'policies.kyverno.io/title': 'Pull public images through the private cache',
        'policies.kyverno.io/category': 'Supply Chain',
        'policies.kyverno.io/subject': 'Pod',
        'policies.kyverno.io/minversion': '1.13.0',
        'policies.kyverno.io/description': [
          `Rewrites the images of Pods and pod controllers to the private registry (${mapping}),`,
          'normalised as Docker and containerd read them (nginx is docker.io/library/nginx:latest),',
          'tags and digests kept, images already under a cache path left alone. Generated by airlock',
          'policy kyverno from the cache rules. verifyImages rules run after this mutation and see the',
          'rewritten reference: name the cache paths in their imageReferences.',
        ].join(' '),
      },
    },
    spec: {
      admission: true,
      background: false,
      webhookConfiguration: { failurePolicy: 'Fail' },
      rules,
    },
  };
  const header = [
    `# Kyverno ClusterPolicy generated by airlock policy kyverno from ${escapeControl(cache.file)}:`,
    '# public image references are rewritten to the pull-through cache at admission.',
    '# verifyImages rules see the rewritten reference (kyverno#4655): verify the cache paths.',
  ].join('\n');
  // Through JSON and the Go YAML reader: the value marshalled is exactly what kubectl would decode.
  return { policy, yaml: `${header}\n${marshalGoYAML(parseGoYAML(JSON.stringify(policy)))}` };
}

export interface KyvernoPolicyFileOptions extends KyvernoPolicyOptions {
  /** cache.yaml to read the rules from. */
  readonly cacheFile: string;
}

/** Reads cache.yaml and builds the policy (`policy kyverno`). */
export async function kyvernoPolicyFromFile(
  options: KyvernoPolicyFileOptions,
): Promise<KyvernoPolicy & { readonly cache: CacheConfig }> {
  const cache = await readCacheConfig(options.cacheFile);
  const { cacheFile: _file, ...rest } = options;
  return { cache, ...kyvernoPolicy(cache, rest) };
}
