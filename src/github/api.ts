/**
 * What sitecycle asks of GitHub, as one interface (implemented over Octokit in client.ts).
 * Pipelines take it as a parameter; tests pass an implementation whose `fetch` checks every
 * request against GitHub's published OpenAPI description.
 */

export interface GithubRelease {
  id: number
  tag: string
  /** The release page (html_url). */
  url: string
  draft: boolean
  assets: { id: number; name: string; size: number; url: string }[]
}

export interface GithubApi {
  /** `owner/repo` this client works on. */
  readonly repository: string
  /** The commit a tag points at (peeling annotated tags), or null when the tag does not exist. */
  getTagCommit(tag: string): Promise<string | null>
  /** Create the tag `refs/tags/<tag>` at `sha` (lightweight). */
  createTag(tag: string, sha: string): Promise<void>
  /** Delete `refs/tags/<tag>` (the undo of createTag). */
  deleteTag(tag: string): Promise<void>
  /**
   * Release notes GitHub generates for a tag (since `previousTag`, when given). `target` (a
   * commit) is needed only when the tag does not exist yet.
   */
  generateNotes(
    tag: string,
    previousTag?: string,
    target?: string
  ): Promise<{ name: string; body: string }>
  /**
   * Create a release; `draft: true` keeps it invisible until publishRelease. `target`: the
   * commit the tag is made on at publication when the tag does not exist yet.
   */
  createRelease(opts: {
    tag: string
    name: string
    body: string
    draft: boolean
    prerelease: boolean
    target?: string
  }): Promise<GithubRelease>
  /**
   * Upload a local file as an asset of a release. An asset of the same name and size already
   * there (a retried upload that had arrived) counts as this upload; another size is an error.
   */
  uploadAsset(releaseId: number, file: string, name: string): Promise<{ id: number; url: string }>
  /** Make a draft release visible. */
  publishRelease(releaseId: number): Promise<GithubRelease>
  /** Delete a release (the undo of createRelease); its tag stays. */
  deleteRelease(releaseId: number): Promise<void>
  /** The published release of a tag, or null (GitHub does not find drafts by tag: use listReleases). */
  getReleaseByTag(tag: string): Promise<GithubRelease | null>
  /** All releases, drafts included, newest first (paginated). */
  listReleases(): Promise<GithubRelease[]>
  /** Download an asset to a local file. */
  downloadAsset(assetId: number, file: string): Promise<void>
}

/** A deployment's state as GitHub's Deployments view shows it. */
export type DeploymentState =
  'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive' | 'pending'

/** What createDeployment sends (`POST /repos/{owner}/{repo}/deployments`). */
export interface NewDeployment {
  /** The commit (or branch or tag) deployed. */
  ref: string
  /** The GitHub environment: sitecycle uses the site's name. */
  environment: string
  /** What is done, such as `deploy` or `deploy:attempt`. */
  task: string
  description: string
  /** True for an environment that goes away (a preview). */
  transientEnvironment: boolean
  /** True for the environment users use (the production site). */
  productionEnvironment: boolean
  /** Extra data kept with the deployment (release version, site, host). */
  payload: Record<string, unknown>
}

/** A deployment GitHub recorded. */
export interface GithubDeployment {
  id: number
  environment: string
  ref: string
}

/** One status of a deployment (`POST .../deployments/{id}/statuses`). */
export interface NewDeploymentStatus {
  state: DeploymentState
  /** At most 140 characters (longer is cut). */
  description?: string
  /** The site's public URL. */
  environmentUrl?: string
  /** The run's log. */
  logUrl?: string
  /** Let GitHub mark the environment's earlier deployments inactive (only on success). */
  autoInactive?: boolean
}

/** An issue, as the alerts read it. */
export interface GithubIssue {
  number: number
  title: string
  body: string
  /** html_url. */
  url: string
  state: 'open' | 'closed'
  labels: string[]
}

/** What the deployment records need of GitHub (implemented by createGithubApi's client too). */
export interface GithubDeploymentsApi {
  /** `owner/repo` this client works on. */
  readonly repository: string
  /** Record a deployment (auto_merge false, required_contexts [] so no check blocks it). */
  createDeployment(deployment: NewDeployment): Promise<GithubDeployment>
  /** Add a status to a deployment. */
  createDeploymentStatus(deploymentId: number, status: NewDeploymentStatus): Promise<void>
}

/** What the issue alerts need of GitHub (implemented by createGithubApi's client too). */
export interface GithubIssuesApi {
  /** `owner/repo` this client works on. */
  readonly repository: string
  /** Open issues (not pull requests) carrying every one of `labels`, oldest first. */
  listOpenIssues(labels: string[]): Promise<GithubIssue[]>
  /** Open an issue with labels (GitHub creates a label that does not exist yet). */
  createIssue(issue: { title: string; body: string; labels: string[] }): Promise<GithubIssue>
  /** Comment on an issue; returns the comment's html_url. */
  commentOnIssue(issueNumber: number, body: string): Promise<string>
  /** Close an issue as completed. */
  closeIssue(issueNumber: number): Promise<void>
}

/** Everything createGithubApi's client does. */
export type FullGithubApi = GithubApi & GithubDeploymentsApi & GithubIssuesApi
