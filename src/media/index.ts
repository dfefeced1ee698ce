export { prepareMedia, type PrepareDeps } from './prepare.js'
export type { MediaInput, MediaKind, MediaLimits, PreparedMedia } from './types.js'
