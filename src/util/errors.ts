/**
 * Errors the user can act on. Each carries one sentence: what is wrong, with which value,
 * and what to do. The CLI and the actions print `message` and exit non-zero.
 */
export class SitecycleError extends Error {
  constructor(
    message: string,
    /** A short machine-readable kind: config, input, lock, release, deploy, host. */
    readonly kind: string = 'input'
  ) {
    super(message)
    this.name = 'SitecycleError'
  }
}

/** A problem in sitecycle.yml or another input file, naming file and line. */
export class ConfigError extends SitecycleError {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number
  ) {
    super(message, 'config')
    this.name = 'ConfigError'
  }
}
