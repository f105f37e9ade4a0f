import { Readable } from 'node:stream';
import { canonicalJSON, type Digest, MediaType, sha256 } from '../../src/core/index.ts';
import type { Repository } from '../../src/oci/index.ts';

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function pushBlob(repository: Repository, bytes: Buffer, mediaType: string) {
  const descriptor = { mediaType, digest: sha256(bytes), size: bytes.byteLength };
  await repository.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
  return descriptor;
}

/**
 * Pushes an OCI image of the given layers (pass the same buffers to share base layers between
 * images), tagged or not; `config` goes into the image config, so equal configs share a blob.
 */
export async function pushTestImage(
  repository: Repository,
  layers: readonly Buffer[],
  tag: string | undefined,
  config: Record<string, unknown> = {},
): Promise<{ digest: Digest; size: number }> {
  const configBytes = Buffer.from(
    canonicalJSON({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      ...config,
    }),
  );
  const configDescriptor = await pushBlob(repository, configBytes, MediaType.ociConfig);
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push(await pushBlob(repository, layer, LAYER));
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDescriptor,
      layers: layerDescriptors,
    }),
  );
  const pushed = await repository.pushManifest(manifest, MediaType.ociManifest, tag);
  return { digest: pushed.digest, size: pushed.size };
}
