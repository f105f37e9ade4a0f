import { createHash, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  rekorHandler,
} from '@sigstore/mock';

export interface MockSigstore {
  readonly fulcioURL: string;
  readonly rekorURL: string;
  /** A trusted_root.json that trusts this deployment's CA, Rekor log and CT log. */
  readonly trustedRoot: unknown;
  /** An unsigned OIDC token as mock Fulcio accepts it (strict mode decodes the claims). */
  token(subject: string, issuer: string): string;
  readonly requests: string[];
  stop(): Promise<void>;
}

/**
 * A private Sigstore deployment on loopback: @sigstore/mock's Fulcio and Rekor handlers (a real CA
 * with embedded SCTs, a real signed log) served over real HTTP, as a deployment inside the isolation
 * boundary would be.
 */
export async function startMockSigstore(): Promise<MockSigstore> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ec = (): {
    publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'];
    privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
  } => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ctKeys = ec();
  const caKeys = ec();
  const tlogKeys = ec();
  const ctLog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(caKeys, ctLog);
  const tlog = await initializeTLog(base, tlogKeys);
  const handlers = [fulcioHandler(ca, { strict: true }), rekorHandler(tlog, { strict: true })];
  const requests: string[] = [];
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = new URL(req.url ?? '/', base).pathname;
        requests.push(`${req.method ?? ''} ${path}`);
        const handler = handlers.find((h) => h.path === path);
        if (!handler || req.method !== 'POST') {
          res.writeHead(404).end();
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const result = await handler.fn(
          path === '/api/v1/log/entries' ? canonicalDSSEEntry(body) : body,
        );
        res
          .writeHead(result.statusCode, {
            'content-type': result.contentType ?? 'application/json',
          })
          .end(result.response);
      })();
    });
  });
  const der = (key: { export: (o: { format: 'der'; type: 'spki' }) => Buffer }): Buffer =>
    key.export({ format: 'der', type: 'spki' });
  const start = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const publicKey = (key: Buffer) => ({
    rawBytes: key.toString('base64'),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: { start },
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: base,
        hashAlgorithm: 'SHA2_256',
        publicKey: publicKey(der(tlogKeys.publicKey)),
        logId: { keyId: createHash('sha256').update(der(tlogKeys.publicKey)).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'airlock-test', commonName: 'airlock test fulcio' },
        uri: base,
        certChain: {
          certificates: [
            {
              rawBytes: Buffer.from(
                ca.rootCertificate.buffer,
                ca.rootCertificate.byteOffset,
                ca.rootCertificate.byteLength,
              ).toString('base64'),
            },
          ],
        },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: base,
        hashAlgorithm: 'SHA2_256',
        publicKey: publicKey(der(ctKeys.publicKey)),
        logId: {
          keyId: Buffer.from(
            ctLog.logID.buffer,
            ctLog.logID.byteOffset,
            ctLog.logID.byteLength,
          ).toString('base64'),
        },
      },
    ],
    timestampAuthorities: [],
  };
  const b64url = (s: string): string => Buffer.from(s).toString('base64url');
  return {
    fulcioURL: base,
    rekorURL: base,
    trustedRoot,
    requests,
    token: (subject, issuer) =>
      `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ sub: subject, iss: issuer, aud: 'sigstore' }))}.`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Rekor does not log a proposed `dsse` entry as sent: it stores the envelope's and payload's hashes
 * and the signatures with their verifiers (rekor pkg/types/dsse/v0.0.1/entry.go, Canonicalize), and
 * @sigstore/verify checks a bundle's entry against that stored form. @sigstore/mock logs bodies
 * unchanged, so this turns a proposed dsse entry into what a real Rekor would log; other kinds pass.
 */
function canonicalDSSEEntry(body: string): string {
  let entry: {
    kind?: string;
    apiVersion?: string;
    spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } };
  };
  try {
    entry = JSON.parse(body) as typeof entry;
  } catch {
    return body;
  }
  const proposed = entry.spec?.proposedContent;
  if (entry.kind !== 'dsse' || proposed?.envelope === undefined) return body;
  const envelope = JSON.parse(proposed.envelope) as {
    payload: string;
    signatures: { sig: string }[];
  };
  const hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
  return JSON.stringify({
    apiVersion: entry.apiVersion ?? '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(proposed.envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((signature, i) => ({
        signature: signature.sig,
        verifier: proposed.verifiers?.[i] ?? proposed.verifiers?.[0] ?? '',
      })),
    },
  });
}
