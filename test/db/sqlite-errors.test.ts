import { describe, expect, it } from 'vitest'
import { databaseWideFailure } from '../../src/db/sqlite-errors.js'

describe('databaseWideFailure', () => {
  it('tells a lock from unwritable storage by the extended code, and leaves errors of one write alone', () => {
    const err = (code: string) => Object.assign(new Error(code), { code })
    expect(databaseWideFailure(err('SQLITE_BUSY'))).toBe('busy')
    expect(databaseWideFailure(err('SQLITE_BUSY_SNAPSHOT'))).toBe('busy')
    expect(databaseWideFailure(err('SQLITE_LOCKED'))).toBe('busy')
    expect(databaseWideFailure(err('SQLITE_FULL'))).toBe('storage')
    expect(databaseWideFailure(err('SQLITE_IOERR_WRITE'))).toBe('storage')
    expect(databaseWideFailure(err('SQLITE_READONLY'))).toBe('storage')
    expect(databaseWideFailure(err('SQLITE_CONSTRAINT_UNIQUE'))).toBeUndefined()
    expect(databaseWideFailure(new Error('plain'))).toBeUndefined()
    expect(databaseWideFailure(null)).toBeUndefined()
  })
})
