/**
 * Whether a run is unattended, on its own: the CLI asks it of every run before it loads anything
 * of the alerts (their GitHub and SMTP clients are loaded only when a run alerts).
 */

/** Whether this run is unattended: `flag` (--unattended), SITECYCLE_UNATTENDED=1, or a scheduled workflow. */
export function isUnattended(env: NodeJS.ProcessEnv, flag = false): boolean {
  return (
    flag ||
    /^(1|true|yes)$/i.test(env.SITECYCLE_UNATTENDED ?? '') ||
    env.GITHUB_EVENT_NAME === 'schedule'
  )
}
