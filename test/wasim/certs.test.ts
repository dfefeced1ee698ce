import { Curve, proto } from '@whiskeysockets/baileys'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { connectClient, pairClient } from './baileys-client.js'
import { createCertAuthority, ROOT_SERIAL } from './certs.js'
import { strictVerify } from './keys.js'
import { WaSimulator } from './simulator.js'
import { trustRootKey } from './trust.js'

describe('certificate chain and device identity are really signed', () => {
  const authority = createCertAuthority('certs-test')

  it('derives the same root from the same seed and a different one from another seed', () => {
    expect(createCertAuthority('certs-test').root.public.equals(authority.root.public)).toBe(true)
    expect(createCertAuthority('other').root.public.equals(authority.root.public)).toBe(false)
  })

  it('signs intermediate with the root and leaf with the intermediate (strict XEdDSA check)', () => {
    const { intermediate, leaf } = proto.CertChain.decode(authority.chain)
    const intermediateDetails = proto.CertChain.NoiseCertificate.Details.decode(intermediate!.details!)
    expect(intermediateDetails.issuerSerial).toBe(ROOT_SERIAL)
    expect(strictVerify(authority.root.public, intermediate!.details!, intermediate!.signature!)).toBe(true)
    expect(strictVerify(intermediateDetails.key!, leaf!.details!, leaf!.signature!)).toBe(true)
    expect(Buffer.from(proto.CertChain.NoiseCertificate.Details.decode(leaf!.details!).key!).equals(authority.serverStatic.public)).toBe(true)
    // and the check is not a no-op: a wrong key fails
    expect(strictVerify(authority.intermediate.public, intermediate!.details!, intermediate!.signature!)).toBe(false)
  })

  describe('with Baileys Curve.verify made strict (as the daemon installs it)', () => {
    let sim: WaSimulator
    beforeAll(async () => {
      sim = await WaSimulator.start({ rootKeySeed: 'strict' })
    })
    afterEach(() => {
      vi.restoreAllMocks()
    })

    it('handshakes and pairs; a client trusting another root refuses the server', async () => {
      const verify = vi.spyOn(Curve, 'verify').mockImplementation((pub, msg, sig) => strictVerify(pub, msg, sig))
      sim.trustInProcess()
      const phone = sim.createPhone({ phone: '5511999990040' })
      const { client } = await pairClient(sim, phone)
      expect(verify).toHaveBeenCalled()
      expect(verify.mock.results.every(r => r.value === true)).toBe(true)
      client.end()

      trustRootKey(createCertAuthority('not-the-sim').root.public)
      const untrusting = connectClient(sim)
      expect(await untrusting.waitForClose()).toBeDefined()
      expect(verify.mock.results.some(r => r.value === false)).toBe(true)
      sim.trustInProcess()
      await sim.stop()
    })
  })
})
