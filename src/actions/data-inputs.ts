/**
 * The data actions' inputs: their names, and one reader per action that parses every input once
 * into a typed settings object. Bad values fail here, before any file is read or host touched,
 * with one error that names each bad input and the form it expects.
 */
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { readBooleanInput, readSnapshotInput } from './data-action.js'
import { readRollbackSettings, RollbackInput, type SiteActionSettings } from './inputs.js'

/** Inputs of the data actions beyond the shared site inputs (inputs.ts SiteInput). */
export enum DataInput {
  /** snapshot: restore the new snapshot into a scratch database and compare checksums. */
  Verify = 'verify',
  /** restore, sync-preview: the snapshot id to use. */
  Snapshot = 'snapshot',
  /** sync-preview: take the source's newest snapshot instead of a new one. */
  UseLatest = 'use-latest',
  /** clone: the site cloned (default: the new site's `from`). */
  From = 'from',
  /** clone: where the source's release file is found. */
  Release = 'release'
}

type InputSource = Pick<ActionCore, 'getInput'>

/** The snapshot action's settings. */
export interface SnapshotSettings extends SiteActionSettings {
  /** Verify the snapshot after taking it (default true). */
  verify: boolean
}

/** The restore action's settings. */
export interface RestoreSettings extends SiteActionSettings {
  /** The snapshot to restore (default: the newest complete one). */
  snapshot?: string
}

/** The sync-preview action's settings. */
export interface SyncPreviewSettings extends SiteActionSettings {
  /** A snapshot of the source to use instead of a new one. */
  snapshot?: string
  /** Use the source's newest snapshot instead of taking a new one. */
  useLatest: boolean
}

/** The clone action's settings. */
export interface CloneSettings extends SiteActionSettings {
  /** The site cloned (default: the new site's `from`). */
  from?: string
  /** A release file, release folder or folder of releases holding the source's live release. */
  release?: string
}

/**
 * The shared site inputs (config, site, host, lock-wait, ssh-key, known-hosts), read by the
 * rollback reader with its one own input blanked: it checks exactly those. Its problems join
 * `problems` instead of being thrown, so one error names every bad input.
 */
export function readSiteInputs(core: InputSource, problems: string[]): SiteActionSettings {
  try {
    const {
      to: _to,
      allowBad: _allowBad,
      ...common
    } = readRollbackSettings({
      getInput: name => (name === RollbackInput.To ? '' : core.getInput(name))
    })
    return common
  } catch (e) {
    if (!(e instanceof SitecycleError)) throw e
    problems.push(e.message)
    return { configFile: '', site: '', lockWait: 0 }
  }
}

function done<T>(problems: string[], value: T): T {
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'input')
  return value
}

/** Read and check the snapshot action's inputs. */
export function readSnapshotSettings(core: InputSource): SnapshotSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const verify = readBooleanInput(core, DataInput.Verify, true, problems)
  return done(problems, { ...common, verify })
}

/** Read and check the restore action's inputs. */
export function readRestoreSettings(core: InputSource): RestoreSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const snapshot = readSnapshotInput(core, DataInput.Snapshot, problems)
  return done(problems, { ...common, ...(snapshot !== undefined && { snapshot }) })
}

/** Read and check the sync-preview action's inputs. */
export function readSyncPreviewSettings(core: InputSource): SyncPreviewSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const snapshot = readSnapshotInput(core, DataInput.Snapshot, problems)
  const useLatest = readBooleanInput(core, DataInput.UseLatest, false, problems)
  if (snapshot !== undefined && useLatest)
    problems.push(
      `inputs '${DataInput.Snapshot}' and '${DataInput.UseLatest}' are both given; expected at most one of them`
    )
  return done(problems, { ...common, ...(snapshot !== undefined && { snapshot }), useLatest })
}

/** Read and check the clone action's inputs. */
export function readCloneSettings(core: InputSource): CloneSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const from = core.getInput(DataInput.From).trim()
  if (from && !/^[a-z0-9][a-z0-9_-]{0,30}$/.test(from))
    problems.push(
      `input '${DataInput.From}' is '${from}'; expected the name of a site in the config file, such as v1`
    )
  const release = core.getInput(DataInput.Release).trim()
  return done(problems, {
    ...common,
    ...(from && { from }),
    ...(release && { release })
  })
}

/** Read and check the mirror action's inputs (the shared site inputs only). */
export function readMirrorSettings(core: InputSource): SiteActionSettings {
  const problems: string[] = []
  return done(problems, readSiteInputs(core, problems))
}
