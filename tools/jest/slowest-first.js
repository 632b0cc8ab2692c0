// Test files longest first, so no worker is left with a long file at the end of a parallel run.
// Jest does this from its cache of the last run's times; a fresh machine (CI) has none and jest
// falls back to file size, which starts some of the slowest files (SSH, kill tests) near the
// end. So a file the cache does not know takes its time from KNOWN (seconds, one file alone on 2
// cores; only the slow ones need to be listed), else its size in bytes as milliseconds.
import Sequencer from '@jest/test-sequencer'

const KNOWN = {
  'data-interrupted-sync': 250,
  'data-interrupted-restore': 170,
  'clone-interrupted': 175,
  'restore-sync': 135,
  mirror: 105,
  'snapshot-incremental': 100,
  'upgrade-attempt': 95,
  'build-backends': 95,
  'interrupted-deploy': 90,
  'workflows-e2e': 90,
  databases: 85,
  snapshot: 80,
  'mariadb-data': 60,
  'example-django': 55,
  'deploy-ssh': 50,
  'killed-ssh-deploy': 40
}

export default class SlowestFirst extends Sequencer {
  time(test) {
    const cached = super.time(test)
    if (cached != null) return cached
    const name = test.path.replace(/^.*\//, '').replace(/\.test\.ts$/, '')
    return KNOWN[name] != null ? KNOWN[name] * 1000 : (test.context.hasteFS.getSize(test.path) ?? 0)
  }
}
