/**
 * Checks the built site (docs/.vitepress/dist) for what typedoc and the sidebar got wrong before,
 * for every package of the workspace, including packages added after this was written:
 *
 * - no TSDoc tag line (`@packageDocumentation`, `@internal`, ...) inside a code block of an API page;
 * - no "Defined in" and no link that points into node_modules (members inherited from `Error`,
 *   `EventEmitter` or the like, declared in the TypeScript lib or @types/node);
 * - a private package (test-only, never published) has no page, no API page and no link;
 * - every published package has its page, linked from the sidebar, and its API page when it has a
 *   `src/index.ts`.
 *
 * Run by `pnpm docs:build` after `vitepress build`; exits non-zero and names page and problem.
 *
 *   pnpm --filter @libswarm/docs check-site       # on an already built site
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OptionDefaults } from 'typedoc'
import { type PackageFolder, packageFolders, repoRoot } from '../.vitepress/links.ts'

/** One thing wrong with the built site. */
export interface SiteProblem {
  /** The page, relative to the site's root (`api/@libswarm/core.html`). */
  page: string
  /** What is wrong, in words. */
  problem: string
}

/** What the check needs to know about the workspace. */
export interface SiteExpectations {
  /** Every package folder, private ones included. */
  packages: readonly (PackageFolder & { npmName: string; hasEntry: boolean })[]
  /** The TSDoc tags that must not show up as a line of an API page's code block. Default: typedoc's. */
  tags?: readonly string[]
}

function htmlFiles(dir: string, base = dir): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'assets') out.push(...htmlFiles(path, base))
    } else if (entry.name.endsWith('.html')) out.push(relative(base, path).split('\\').join('/'))
  }
  return out.sort()
}

function decode(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
}

/** The site path of a package's API page: `api/@libswarm/core.html` for `@libswarm/core`. */
function apiPage(npmName: string): string {
  return `api/${npmName}.html`
}

/** Checks the site built into `dist`; returns the problems found (none: the site is fine). */
export function checkSite(dist: string, expect: SiteExpectations): SiteProblem[] {
  const problems: SiteProblem[] = []
  const tags = new Set(expect.tags ?? [...OptionDefaults.modifierTags, ...OptionDefaults.blockTags])
  const pages = htmlFiles(dist)
  const html = new Map(pages.map((page) => [page, readFileSync(join(dist, page), 'utf8')]))
  const privates = expect.packages.filter((pkg) => pkg.private)

  for (const [page, text] of html) {
    if (page.startsWith('api/')) {
      for (const [, block] of text.matchAll(/<pre\b[^>]*>([\s\S]*?)<\/pre>/g)) {
        for (const line of decode(block!).split('\n')) {
          const tag = line.trim()
          if (tags.has(tag))
            problems.push({ page, problem: `the doc comment tag ${tag} shows in a code block` })
        }
      }
      for (const [, where] of text.matchAll(/Defined in:\s*(?:<a\b[^>]*>([^<]*)<\/a>)?/g)) {
        if (where === undefined) problems.push({ page, problem: '"Defined in:" with no place after it' })
        else if (where.includes('node_modules'))
          problems.push({ page, problem: `"Defined in: ${where.trim()}" points outside the workspace` })
      }
    }
    for (const [, href] of text.matchAll(/\bhref="([^"]*)"/g)) {
      if (/(?:^|\/)node_modules\//.test(href!))
        problems.push({ page, problem: `links into node_modules: ${href}` })
      // Links to the repository (a README's "see packages/reliability-tests") are fine; pages are not.
      if (href!.includes('://')) continue
      for (const pkg of privates) {
        const path = href!.replace(/[#?].*$/, '').replace(/\.(?:html|md)$/, '')
        if (path.endsWith(`/packages/${pkg.name}`) || path.endsWith(`/api/${pkg.npmName}`))
          problems.push({ page, problem: `links the private package ${pkg.npmName} (${href})` })
      }
    }
  }

  // Every page with a sidebar carries the whole of it; the packages' index page has one.
  const sidebar =
    /<aside class="VPSidebar"[\s\S]*?<\/aside>/.exec(html.get('packages/index.html') ?? '')?.[0] ?? ''
  if (!sidebar) problems.push({ page: 'packages/index.html', problem: 'missing, or has no sidebar' })
  for (const pkg of expect.packages) {
    const readmePage = `packages/${pkg.name}.html`
    if (pkg.private) {
      for (const page of [readmePage, apiPage(pkg.npmName)]) {
        if (html.has(page)) problems.push({ page, problem: `a page for the private package ${pkg.npmName}` })
      }
      continue
    }
    if (!html.has(readmePage))
      problems.push({
        page: readmePage,
        problem: `missing: the page of ${pkg.npmName} (from ${pkg.folder}/README.md)`,
      })
    if (pkg.hasEntry && !html.has(apiPage(pkg.npmName)))
      problems.push({ page: apiPage(pkg.npmName), problem: `missing: the API reference of ${pkg.npmName}` })
    if (!new RegExp(`href="[^"]*/packages/${pkg.name}(?:\\.html)?"`).test(sidebar))
      problems.push({
        page: 'packages/index.html',
        problem: `the sidebar does not link the page of ${pkg.npmName}`,
      })
  }
  return problems
}

/** The workspace's packages as the check needs them. */
export function workspacePackages(): SiteExpectations['packages'] {
  return packageFolders({ includePrivate: true }).map((pkg) => ({
    ...pkg,
    npmName: (
      JSON.parse(readFileSync(join(repoRoot, pkg.folder, 'package.json'), 'utf8')) as { name: string }
    ).name,
    hasEntry: existsSync(join(repoRoot, pkg.folder, 'src/index.ts')),
  }))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = join(repoRoot, 'docs/.vitepress/dist')
  if (!existsSync(dist)) {
    console.error('docs: no built site at docs/.vitepress/dist; run `pnpm docs:build` first')
    process.exit(1)
  }
  const problems = checkSite(dist, { packages: workspacePackages() })
  const counted = new Map<string, number>()
  for (const { page, problem } of problems) {
    const line = `docs/.vitepress/dist/${page}: ${problem}`
    counted.set(line, (counted.get(line) ?? 0) + 1)
  }
  for (const [line, count] of counted) console.error(count > 1 ? `${line} (${count} times)` : line)
  if (problems.length > 0) {
    console.error(
      `docs: the built site has ${problems.length} problem(s) (see above; fix the generator, not the pages)`,
    )
    process.exit(1)
  }
  console.log('docs: the built site has no tag in code blocks, no node_modules path, no private package page')
}
