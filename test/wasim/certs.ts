/**
 * The simulator's Noise certificate chain: root → intermediate → leaf, each signed by its issuer.
 * Baileys checks the intermediate against WA_CERT_DETAILS.PUBLIC_KEY and its issuerSerial against
 * WA_CERT_DETAILS.SERIAL (0), and the leaf against the intermediate's key (Utils/noise-handler.js:143-163).
 * Clients trust this root by replacing WA_CERT_DETAILS.PUBLIC_KEY (see trust.ts).
 */
import { proto } from '@whiskeysockets/baileys'
import { deriveKeyPair, sign, type KeyPair } from './keys.js'

export const ROOT_SERIAL = 0
const INTERMEDIATE_SERIAL = 1
const LEAF_SERIAL = 2
const HUNDRED_YEARS_S = 100 * 365 * 24 * 3600

export interface CertAuthority {
  root: KeyPair
  intermediate: KeyPair
  /** The Noise static key of the server; the leaf certifies it. */
  serverStatic: KeyPair
  /** Encoded proto.CertChain, sent (encrypted) in every ServerHello. */
  chain: Buffer
}

export function createCertAuthority(seed: string): CertAuthority {
  const root = deriveKeyPair(seed, 'root')
  const intermediate = deriveKeyPair(seed, 'intermediate')
  const serverStatic = deriveKeyPair(seed, 'server-static')
  const now = Math.floor(Date.now() / 1000)
  const intermediateCert = issueCertificate(root, {
    serial: INTERMEDIATE_SERIAL,
    issuerSerial: ROOT_SERIAL,
    key: intermediate.public,
    notBefore: now - 60,
    notAfter: now + HUNDRED_YEARS_S
  })
  const leafCert = issueCertificate(intermediate, {
    serial: LEAF_SERIAL,
    issuerSerial: INTERMEDIATE_SERIAL,
    key: serverStatic.public,
    notBefore: now - 60,
    notAfter: now + HUNDRED_YEARS_S
  })
  const chain = Buffer.from(proto.CertChain.encode({ intermediate: intermediateCert, leaf: leafCert }).finish())
  return { root, intermediate, serverStatic, chain }
}

function issueCertificate(
  issuer: KeyPair,
  details: proto.CertChain.NoiseCertificate.IDetails
): proto.CertChain.INoiseCertificate {
  const encoded = proto.CertChain.NoiseCertificate.Details.encode(details).finish()
  return { details: encoded, signature: sign(issuer.private, encoded) }
}
