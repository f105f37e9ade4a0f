import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { canonicalJSON, type Digest, MediaType, sha256 } from '../../src/core/index.ts';
import type { Descriptor, Repository } from '../../src/oci/index.ts';

export interface TestArtifact {
  readonly manifest: Buffer;
  readonly digest: Digest;
  readonly blobs: readonly { descriptor: Descriptor; bytes: Buffer }[];
}

/** Builds a small Helm-chart-shaped artifact (config + one layer) with random content. */
export function makeArtifact(
  options: { layerSize?: number; name?: string; layers?: number } = {},
): TestArtifact {
  const config = Buffer.from(
    canonicalJSON({
      name: options.name ?? 'test',
      version: '1.0.0',
      nonce: randomBytes(8).toString('hex'),
    }),
  );
  const layers = Array.from({ length: options.layers ?? 1 }, () =>
    randomBytes(options.layerSize ?? 2048),
  );
  const blobs = [
    {
      descriptor: {
        mediaType: MediaType.helmConfig,
        digest: sha256(config),
        size: config.byteLength,
      },
      bytes: config,
    },
    ...layers.map((bytes) => ({
      descriptor: { mediaType: MediaType.helmChart, digest: sha256(bytes), size: bytes.byteLength },
      bytes,
    })),
  ];
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: blobs[0]!.descriptor,
      layers: blobs.slice(1).map((b) => b.descriptor),
      annotations: { 'org.opencontainers.image.title': options.name ?? 'test' },
    }),
  );
  return { manifest, digest: sha256(manifest), blobs };
}

/** Pushes an artifact's blobs and manifest (tagged) to a repository. */
export async function pushArtifact(
  repository: Repository,
  artifact: TestArtifact,
  tag: string,
): Promise<void> {
  for (const blob of artifact.blobs) {
    await repository.pushBlob(blob.descriptor, () => Promise.resolve(Readable.from([blob.bytes])));
  }
  await repository.pushManifest(artifact.manifest, MediaType.ociManifest, tag);
}
