export { parseCidrList, isForbiddenAddress, EMPTY_CIDR_LIST, type CidrList } from './cidr.js'
export { createGuardedAgent, createGuardedLookup, type GuardedAgentOptions } from './guarded-agent.js'
export { SsrfForbiddenError, isSsrfForbidden } from './ssrf-error.js'
