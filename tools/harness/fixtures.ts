/**
 * Fixtures for the remote actions this repository's workflows use, kept as action directories
 * under __tests__/fixtures/harness/ and run by the harness like any action: actions/checkout
 * (from local directories) and actions/setup-node (the machine's node).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RemoteActionFixture } from './model.js'

/** __tests__/fixtures/harness of this repository. */
export const FIXTURES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '__tests__',
  'fixtures',
  'harness'
)

/** Where the checkout fixture finds one repository. */
export interface CheckoutSource {
  /** A directory on this machine. */
  dir: string
  /**
   * `clone`: a git repository, fetched as actions/checkout fetches (ref, fetch-depth, tags).
   * `copy`: the working tree as it is (tracked and untracked, not ignored files), for this
   * repository's uncommitted state. Default: clone when `dir` holds .git.
   */
  mode?: 'clone' | 'copy'
  /** For `copy`: the commit the copy stands for; a checkout asking another ref fails. */
  sha?: string
  /** For `copy`: other refs (branches, tags) the copy also stands for. */
  refs?: string[]
}

/** The actions/checkout fixture, answering from `sources` by `owner/repo`. */
export function checkoutFixture(sources: Record<string, CheckoutSource>): RemoteActionFixture {
  return {
    dir: path.join(FIXTURES_DIR, 'checkout'),
    env: { HARNESS_CHECKOUT_SOURCES: JSON.stringify(sources) }
  }
}

/** The actions/setup-node fixture: the machine's node first on PATH, a notice when the major differs. */
export function setupNodeFixture(): RemoteActionFixture {
  return { dir: path.join(FIXTURES_DIR, 'setup-node') }
}
