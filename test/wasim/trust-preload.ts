/**
 * Preload for a daemon child process: `node --import tsx --import ./test/wasim/trust-preload.ts dist/main.js` by hand;
 * the tests run its compiled copy (test/helpers/daemon-bundle.ts).
 * Reads the simulator's root key from WASIM_ROOT_PUBLIC_KEY (base64, as printed by `npm run sim`), or derives
 * it from WASIM_ROOT_KEY_SEED (the simulator's `rootKeySeed`), and makes this process's Baileys trust it.
 */
import { createCertAuthority } from './certs.js'
import { trustRootKey } from './trust.js'

const encoded = process.env.WASIM_ROOT_PUBLIC_KEY
const seed = process.env.WASIM_ROOT_KEY_SEED
if (encoded) trustRootKey(Buffer.from(encoded, 'base64'))
else if (seed) trustRootKey(createCertAuthority(seed).root.public)
else throw new Error('trust-preload: set WASIM_ROOT_PUBLIC_KEY (base64) or WASIM_ROOT_KEY_SEED')
