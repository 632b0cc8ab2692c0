/** What the code under test writes to stderr, captured per test (jest spies, restored after). */
import { afterEach, beforeEach, jest } from '@jest/globals'

/** Capture stderr in every test of the file; read the lines written so far with the getter. */
export function captureStderr(): () => string[] {
  let lines: string[] = []
  beforeEach(() => {
    lines = []
    jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      lines.push(String(s))
      return true
    })
  })
  afterEach(() => {
    jest.restoreAllMocks()
  })
  return () => lines
}
