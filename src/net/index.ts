export { createGuardedAgent } from './guarded-agent.js'
