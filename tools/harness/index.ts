/**
 * The workflow harness: runs this repository's workflows and actions on this machine through
 * GitHub's own workflow parser and expression engine. See tools/harness/README.md.
 */
export {
  Harness,
  DEFAULT_SHA,
  DEFAULT_TOKEN,
  repositoryRootOf,
  type ActionRunOptions
} from './harness.js'
export {
  HarnessInvalid,
  HarnessUnsupported,
  formatLocation,
  type SourceLocation
} from './errors.js'
export type {
  ActionRun,
  ActionsRuntimeProvider,
  ApprovalRequest,
  EnvironmentSettings,
  GithubSettings,
  HarnessOptions,
  JobRecord,
  RemoteActionFixture,
  RemoteWorkflowFixture,
  Result,
  StaticCheck,
  StepRecord,
  Trigger,
  WorkflowRepository,
  WorkflowRun
} from './model.js'
export type { Annotation } from './log.js'
export type { Json } from './expressions.js'
export { allJobs, allSteps, assertSucceeded, describeFailure, jobOf } from './report.js'
export { expandMatrix } from './matrix.js'
export { parseCommandLine, parseKeyValueText } from './workflow-commands.js'
export { checkoutFixture, setupNodeFixture, type CheckoutSource } from './fixtures.js'
export { startGithubForwarder, type GithubForwarder } from './github-forwarder.js'
export {
  ArtifactService,
  ARTIFACT_TWIRP_SERVICE,
  type ActionsRuntimeVariables,
  type ArtifactServiceOptions,
  type ArtifactServiceRequest,
  type GithubAnswer,
  type StoredArtifact
} from './artifact-service.js'
export { ScratchRepos } from './scratch.js'
