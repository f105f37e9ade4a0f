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

export interface TestPlatformImage {
  /** `os/arch[/variant]`. */
  readonly platform: string;
  /** The image's layers: pass the same buffers to share base layers between platforms. */
  readonly layers: readonly Buffer[];
}

/**
 * Pushes one image per platform (each with its own config, so children differ even when their
 * layers are shared) and an OCI image index of them, tagged or not. Returns the index digest and
 * each child's digest by platform.
 */
export async function pushTestIndex(
  repository: Repository,
  images: readonly TestPlatformImage[],
  tag: string | undefined,
  options: { mediaType?: string } = {},
): Promise<{ digest: Digest; size: number; children: Map<string, Digest> }> {
  const children = new Map<string, Digest>();
  const manifests = [];
  for (const image of images) {
    const [os = 'linux', architecture = 'amd64', variant] = image.platform.split('/');
    const platform = { os, architecture, ...(variant === undefined ? {} : { variant }) };
    const child = await pushTestImage(repository, image.layers, undefined, platform);
    children.set(image.platform, child.digest);
    manifests.push({ mediaType: MediaType.ociManifest, ...child, platform });
  }
  const mediaType = options.mediaType ?? MediaType.ociIndex;
  const index = Buffer.from(canonicalJSON({ schemaVersion: 2, mediaType, manifests }));
  const pushed = await repository.pushManifest(index, mediaType, tag);
  return { digest: pushed.digest, size: pushed.size, children };
}
