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
