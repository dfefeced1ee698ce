/**
 * BENCH_ALS_SHIM=1 (sessions.ts / restore.ts): loads the daemon's own fix (src/whatsapp/single-async-local-storage.ts)
 * into a measured process before Baileys creates any socket — for the bare-Baileys baseline, so both sides of a ratio
 * carry the same fix. The daemon installs it itself at start.
 */
import { shareOneAsyncLocalStorage } from '../../src/whatsapp/single-async-local-storage.js'

shareOneAsyncLocalStorage()
