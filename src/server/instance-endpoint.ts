/**
 * The API as instances reach it, with no configuration of their SDKs: each VPC's router answers
 * on 169.254.169.254, beside the metadata service — plain HTTP on port 4566, and HTTPS on 443
 * under AWS's own endpoint names (`ec2.<region>.amazonaws.com`, `sts.amazonaws.com`, …), which
 * the AMIs point at that address in /etc/hosts. The HTTPS certificate is signed by a CA of this
 * installation (made on first use, kept in the data directory) that the AMIs trust at boot.
 *
 * Requests that come this way are marked as coming from an instance: the default test/test
 * credentials never work on them, whatever address the server itself listens on.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { REGION_NAMES } from '../catalog/regions.js';

export const INSTANCE_API_HTTP_PORT = 4566;
export const INSTANCE_API_HTTPS_PORT = 443;

/** Where connections from instances go: the API server, once it is up. */
export interface InstanceConnectionSink {
  acceptFromInstance(socket: Socket | TLSSocket): void;
}

function newKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function certificate(opts: {
  subject: string; keyPem: string; issuer?: { cert: forge.pki.Certificate; keyPem: string }; ca: boolean; dnsNames?: string[];
}): string {
  const key = forge.pki.privateKeyFromPem(opts.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: opts.subject }, { name: 'organizationName', value: 'Nimbus' }]);
  cert.setIssuer(opts.issuer ? opts.issuer.cert.subject.attributes : cert.subject.attributes);
  const extensions: object[] = [{ name: 'basicConstraints', cA: opts.ca, critical: true }];
  if (opts.ca) extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  else {
    extensions.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
    extensions.push({ name: 'extKeyUsage', serverAuth: true });
    extensions.push({ name: 'subjectAltName', altNames: (opts.dnsNames ?? []).map((value) => ({ type: 2, value })) });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(opts.issuer?.keyPem ?? opts.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export class InstanceEndpoint {
  readonly caPem: string;
  private readonly keyPem: string;
  private readonly certPem: string;
  private sink?: InstanceConnectionSink;

  constructor(dataDir: string) {
    const dir = join(dataDir, 'tls');
    const files = { caKey: join(dir, 'ca-key.pem'), ca: join(dir, 'ca.pem'), key: join(dir, 'endpoint-key.pem'), cert: join(dir, 'endpoint.pem') };
    if (!Object.values(files).every((f) => existsSync(f))) {
      mkdirSync(dir, { recursive: true });
      const caKey = newKeyPem();
      const ca = certificate({ subject: 'Nimbus instance CA', keyPem: caKey, ca: true });
      const key = newKeyPem();
      const dnsNames = ['amazonaws.com', '*.amazonaws.com', ...[...REGION_NAMES].map((r) => `*.${r}.amazonaws.com`)];
      const cert = certificate({ subject: 'amazonaws.com', keyPem: key, issuer: { cert: forge.pki.certificateFromPem(ca), keyPem: caKey }, ca: false, dnsNames });
      writeFileSync(files.caKey, caKey, { mode: 0o600 });
      writeFileSync(files.key, key, { mode: 0o600 });
      writeFileSync(files.ca, ca);
      writeFileSync(files.cert, cert);
    }
    this.caPem = readFileSync(files.ca, 'utf8');
    this.keyPem = readFileSync(files.key, 'utf8');
    this.certPem = readFileSync(files.cert, 'utf8');
  }

  /** Connections from instances go to `sink` from now on (until then they are refused). */
  serveWith(sink: InstanceConnectionSink): void {
    this.sink = sink;
  }

  private deliver(socket: Socket | TLSSocket): void {
    if (this.sink) this.sink.acceptFromInstance(socket);
    else socket.destroy();
  }

  /** The two services each VPC's router offers: HTTP and HTTPS to the API. */
  services(address: string): { address: string; port: number; attach: (listener: Server) => void }[] {
    const tls = createTlsServer({ key: this.keyPem, cert: `${this.certPem}${this.caPem}` }, (s) => this.deliver(s));
    tls.on('tlsClientError', (_err, socket) => socket.destroy());
    return [
      { address, port: INSTANCE_API_HTTP_PORT, attach: (listener) => listener.on('connection', (s: Socket) => this.deliver(s)) },
      { address, port: INSTANCE_API_HTTPS_PORT, attach: (listener) => listener.on('connection', (s: Socket) => tls.emit('connection', s)) },
    ];
  }
}
