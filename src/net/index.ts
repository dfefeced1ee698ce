export { type CidrList } from './cidr.js'
export { createGuardedAgent, type GuardedAgentOptions } from './guarded-agent.js'
