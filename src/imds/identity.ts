/**
 * The signed instance identity document. Nimbus signs with an RSA key of its own (made on first
 * use, kept in the data directory) and publishes the certificate (`bin/nimbus imds certificate`,
 * or GET /_nimbus/instance-identity/certificate), so a verifier checks the document as it would
 * EC2's: `openssl smime -verify -in rsa2048.p7 -inform PEM -content document -certfile cert.pem -noverify`,
 * or the base64 SHA256withRSA `signature` with the certificate's public key.
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import type { Caller } from './caller.js';

export function identityDocument(c: Caller): string {
  const rec = c.instance;
  const doc = {
    accountId: c.scope.account,
    architecture: rec.Architecture,
    availabilityZone: rec.AvailabilityZone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: rec.ImageId,
    instanceId: rec.InstanceId,
    instanceType: rec.InstanceType,
    kernelId: rec.KernelId ?? null,
    pendingTime: rec.LaunchTime.replace(/\.\d{3}Z$/, 'Z'),
    privateIp: rec.PrivateIpAddress,
    ramdiskId: rec.RamdiskId ?? null,
    region: c.scope.region,
    version: '2017-09-30',
  };
  return JSON.stringify(doc, null, 2);
}

export class IdentitySigner {
  readonly certificatePem: string;
  private readonly keyPem: string;
  private readonly forgeKey: forge.pki.rsa.PrivateKey;
  private readonly forgeCert: forge.pki.Certificate;

  constructor(dir: string) {
    const keyFile = join(dir, 'identity-key.pem');
    const certFile = join(dir, 'identity-certificate.pem');
    if (!existsSync(keyFile) || !existsSync(certFile)) {
      mkdirSync(dir, { recursive: true });
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      writeFileSync(keyFile, pem, { mode: 0o600 });
      writeFileSync(certFile, selfSignedCertificate(pem));
    }
    this.keyPem = readFileSync(keyFile, 'utf8');
    this.certificatePem = readFileSync(certFile, 'utf8');
    this.forgeKey = forge.pki.privateKeyFromPem(this.keyPem);
    this.forgeCert = forge.pki.certificateFromPem(this.certificatePem);
  }

  /** SHA256withRSA over the document, base64 (the `signature` category). */
  signature(document: string): string {
    return createSign('sha256').update(document).sign(this.keyPem, 'base64');
  }

  /** A detached PKCS #7 signed-data of the document, base64 without PEM armour (the `pkcs7` and `rsa2048` categories). */
  pkcs7(document: string): string {
    const p7 = forge.pkcs7.createSignedData();
    p7.content = forge.util.createBuffer(document, 'utf8');
    p7.addCertificate(this.forgeCert);
    p7.addSigner({
      key: this.forgeKey,
      certificate: this.forgeCert,
      digestAlgorithm: forge.pki.oids.sha256!,
      authenticatedAttributes: [
        { type: forge.pki.oids.contentType!, value: forge.pki.oids.data },
        { type: forge.pki.oids.messageDigest! },
        { type: forge.pki.oids.signingTime!, value: new Date() as unknown as string },
      ],
    });
    p7.sign({ detached: true });
    const der = forge.asn1.toDer(p7.toAsn1()).getBytes();
    return forge.util.encode64(der).replace(/(.{64})/g, '$1\n').trim();
  }
}

function selfSignedCertificate(keyPem: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 20 * 365 * 24 * 3600 * 1000);
  const name = [{ name: 'commonName', value: 'Nimbus instance identity' }, { name: 'organizationName', value: 'Nimbus' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}
