export { prepareMedia } from './prepare.js'
export type { MediaInput, PreparedMedia } from './types.js'
