/**
 * Where a relative link in the repository's Markdown points on the site. The same Markdown is read
 * on GitHub (links between files) and on the site (links between pages), so links stay written
 * the GitHub way and are mapped here:
 *
 * - a page under docs/ stays a page (`/PROTOCOL.md`);
 * - a package's README (or its folder) becomes that package's generated page (`/packages/core.md`),
 *   and the packages/ folder the package index (`/packages/`);
 * - docs/api/README.md (what a checkout has of the generated API reference) becomes `/api/`;
 * - anything else in the repository (sources, test vectors, examples) links to the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root folder. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** The repository on the web, from the root package.json (or core's) `repository`; override with LIBSWARM_REPO_URL. */
export const repoUrl: string = (() => {
  if (process.env.LIBSWARM_REPO_URL) return process.env.LIBSWARM_REPO_URL.replace(/\/$/, '')
  for (const file of ['package.json', 'packages/core/package.json']) {
    const pkg = JSON.parse(readFileSync(join(repoRoot, file), 'utf8')) as {
      repository?: string | { url?: string }
    }
    const url = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url
    if (url)
      return url
        .replace(/^git\+/, '')
        .replace(/\.git$/, '')
        .replace(/\/$/, '')
  }
  return 'https://github.com/libswarm/libswarm-ts'
})()

/** A package folder of the workspace: `packages/<name>` or `apps/<name>`. */
export interface PackageFolder {
  /** The folder relative to the repository root, e.g. `packages/core`. */
  folder: string
  group: 'packages' | 'apps'
  /** The folder's name, which is also the name of its page under /packages/. */
  name: string
  /** `"private": true` in its package.json: never published, so the site leaves it out. */
  private: boolean
}

/**
 * The folders whose README becomes a page under /packages/: `packages/<name>` and `apps/<name>`
 * with a README.md and a package.json, leaving out private packages (test-only, never published)
 * unless `includePrivate` is set.
 */
export function packageFolders(options: { includePrivate?: boolean } = {}): PackageFolder[] {
  const found: PackageFolder[] = []
  for (const group of ['packages', 'apps'] as const) {
    const base = join(repoRoot, group)
    if (!existsSync(base)) continue
    for (const name of readdirSync(base).sort()) {
      const manifest = join(base, name, 'package.json')
      if (!existsSync(join(base, name, 'README.md')) || !existsSync(manifest)) continue
      const isPrivate = (JSON.parse(readFileSync(manifest, 'utf8')) as { private?: boolean }).private === true
      if (isPrivate && !options.includePrivate) continue
      found.push({ folder: `${group}/${name}`, group, name, private: isPrivate })
    }
  }
  return found
}

/**
 * Maps `href`, written in the file at `fromRepoPath` (relative to the repository root), to where
 * it points on the site. Returns undefined when the link is left as it is.
 */
export function mapLink(fromRepoPath: string, href: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#') || href.startsWith('/')) return undefined
  const hashAt = href.indexOf('#')
  const path = hashAt === -1 ? href : href.slice(0, hashAt)
  const hash = hashAt === -1 ? '' : href.slice(hashAt)
  if (path === '') return undefined
  const target = posix.normalize(posix.join(posix.dirname(fromRepoPath), path)).replace(/\/$/, '')
  if (target.startsWith('..')) return undefined

  // A package README, or the package's folder: its generated page (a private package has none).
  const pkg = /^(packages|apps)\/([^/]+)(?:\/README\.md)?$/.exec(target)
  if (pkg && packageFolders().some(({ folder }) => folder === `${pkg[1]}/${pkg[2]}`))
    return `/packages/${pkg[2]}.md${hash}`

  // The packages' folder: the site's package index. The API reference's README (the one file of
  // docs/api/ a checkout has before the site is built): the generated reference.
  if (target === 'packages') return `/packages/${hash}`
  if (target === 'docs/api/README.md') return `/api/${hash}`

  // A page of the site.
  if (target.startsWith('docs/') && target.endsWith('.md')) return `/${target.slice('docs/'.length)}${hash}`

  // Anything else in the repository: its page on the repository's host.
  const full = join(repoRoot, target)
  const kind = existsSync(full) && statSync(full).isDirectory() ? 'tree' : 'blob'
  return `${repoUrl}/${kind}/main/${target}${hash}`
}

/** The repository path of the Markdown a page was made from (`docs/X.md`, or a generated page's `source`). */
export function sourceOf(relativePath: string, frontmatter: Record<string, unknown> | undefined): string {
  const source = frontmatter?.source
  return typeof source === 'string' ? source : posix.join('docs', relativePath)
}
