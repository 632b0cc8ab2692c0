/**
 * Small Python programs run on the host as `python3 -c <program> args...`. A host needs only
 * Python, pip and Apache (no agent); these give the few operations that must be atomic or
 * must poll on the host itself in one round trip. Each takes its inputs as argv, never
 * interpolated into the program text. The programs are the files src/host/*.py (imported as
 * text, tools/rollup/text-import.js); each file's opening comment says its argv and output.
 */
import awaitGroup from '../host/await-group.py'
import hostFacts from '../host/host-facts.py'
import listGroup from '../host/list-group.py'
import listReleases from '../host/list-releases.py'
import pointLink from '../host/point-link.py'
import probeHttp from '../host/probe-http.py'
import readState from '../host/read-state.py'
import recordDigests from '../host/record-digests.py'
import releaseLock from '../host/release-lock.py'
import restartGroup from '../host/restart-group.py'
import signalGroup from '../host/signal-group.py'
import switchMap from '../host/switch-map.py'
import takeLock from '../host/take-lock.py'
import warmSwitch from '../host/warm-switch.py'

/** host/switch-map.py: switches live.map to a slot (compare and swap with an expected slot). */
export const SWITCH_MAP = switchMap

/** host/restart-group.py: SIGINT to a daemon group, then waits for as many new daemons. */
export const RESTART_GROUP = restartGroup

/** host/signal-group.py: points a slot link and sends SIGINT to a daemon group, no wait. */
export const SIGNAL_GROUP = signalGroup

/** host/await-group.py: waits for the new daemons after SIGNAL_GROUP. */
export const AWAIT_GROUP = awaitGroup

/** host/list-group.py: the PIDs of a daemon group's processes. */
export const LIST_GROUP = listGroup

/** host/probe-http.py: GETs a url until it answers 200 with the version enough times in a row. */
export const PROBE_HTTP = probeHttp

/** host/point-link.py: points a symlink at a target atomically. */
export const POINT_LINK = pointLink

/** host/list-releases.py: the releases dir as JSON (complete, release.json, bad). */
export const LIST_RELEASES = listReleases

/** host/read-state.py: a site's slots, live slot, releases and whether it is initialized. */
export const READ_STATE = readState

/** host/warm-switch.py: the rollback to the release warm in the idle slot, in one process. */
export const WARM_SWITCH = warmSwitch

/** host/host-facts.py: Python version, pip, pip's runner and free space, as JSON. */
export const HOST_FACTS = hostFacts

/** host/record-digests.py: sha256 of a release's RECORDs and of the files its hooks made. */
export const RECORD_DIGESTS = recordDigests

/** host/take-lock.py: one attempt at a site's lock (lock.<id> with its holder, renamed to lock). */
export const TAKE_LOCK = takeLock

/** host/release-lock.py: releases a site's lock held by an operation; old attempts removed. */
export const RELEASE_LOCK = releaseLock
