/**
 * The harness's errors. A workflow that uses something the harness cannot run on this machine
 * is refused with HarnessUnsupported (naming the feature and file:line), never skipped; a
 * workflow or action that GitHub itself would reject (schema errors, bad workflow_call inputs)
 * is refused with HarnessInvalid.
 */

/** Where something is written: `file:line` (line omitted when unknown). */
export interface SourceLocation {
  file: string
  line?: number
}

/** `file:line`, or `file` when the line is unknown. */
export function formatLocation(where: SourceLocation): string {
  return where.line !== undefined ? `${where.file}:${where.line}` : where.file
}

/** A feature the harness does not run (containers, services, docker actions, other OSes ...). */
export class HarnessUnsupported extends Error {
  constructor(
    /** The feature, e.g. `services:` or `runs-on: windows-latest`. */
    readonly feature: string,
    readonly where: SourceLocation,
    /** Why, or what to do instead. */
    readonly hint?: string
  ) {
    super(
      `the harness does not support ${feature} (${formatLocation(where)})${hint ? `: ${hint}` : ''}`
    )
    this.name = 'HarnessUnsupported'
  }
}

/** A workflow or action GitHub would refuse to run: schema errors, bad inputs or secrets of a call. */
export class HarnessInvalid extends Error {
  constructor(
    message: string,
    /** Each problem, as `file (Line: n, Col: m): message` when the parser gave a position. */
    readonly problems: string[] = []
  ) {
    super(problems.length ? `${message}:\n${problems.map(p => `  ${p}`).join('\n')}` : message)
    this.name = 'HarnessInvalid'
  }
}
