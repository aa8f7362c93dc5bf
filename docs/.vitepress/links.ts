/**
 * Where a relative link in the repository's Markdown points on the site. The same Markdown is read
 * on GitHub (links between files) and on the site (links between pages), so links stay written
 * the GitHub way and are mapped here:
 *
 * - a page under docs/ stays a page (`/PROTOCOL.md`);
 * - a package's README (or its folder) becomes that package's generated page (`/packages/core.md`);
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

/** The folders whose README becomes a page under /packages/: `packages/<name>` and `apps/<name>`. */
export function packageFolders(): { folder: string; group: 'packages' | 'apps'; name: string }[] {
  const found: { folder: string; group: 'packages' | 'apps'; name: string }[] = []
  for (const group of ['packages', 'apps'] as const) {
    const base = join(repoRoot, group)
    if (!existsSync(base)) continue
    for (const name of readdirSync(base).sort()) {
      if (existsSync(join(base, name, 'README.md')) && existsSync(join(base, name, 'package.json'))) {
        found.push({ folder: `${group}/${name}`, group, name })
      }
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

  // A package README, or the package's folder: its generated page.
  const pkg = /^(packages|apps)\/([^/]+)(?:\/README\.md)?$/.exec(target)
  if (pkg && existsSync(join(repoRoot, pkg[1]!, pkg[2]!, 'README.md'))) return `/packages/${pkg[2]}.md${hash}`

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
