/**
 * The Markdown is read in two places: on the site (VitePress, which fails the build on a dead link)
 * and in a checkout or on GitHub, before anything is generated. This checks the second: every
 * relative link in the hand-written Markdown (docs/, the READMEs, examples/) points at a file or
 * folder the checkout has, never at a page that only exists once the site is built (docs/packages/,
 * docs/api/ other than its README). .vitepress/links.ts maps such links onto the site's pages.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { mapLink, packageFolders, repoRoot } from '../.vitepress/links.ts'

const generated = ['docs/packages/', 'docs/api/', 'docs/.samples/', 'docs/.vitepress/dist/']

function markdownUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...markdownUnder(path))
    else if (entry.name.endsWith('.md')) out.push(relative(repoRoot, path))
  }
  return out
}

/** The hand-written Markdown of the repository, relative to its root. */
function handWritten(): string[] {
  const files = [
    'README.md',
    ...markdownUnder(join(repoRoot, 'docs')),
    ...markdownUnder(join(repoRoot, 'examples')),
    ...packageFolders({ includePrivate: true }).map(({ folder }) => `${folder}/README.md`),
  ]
  return [...new Set(files)].filter(
    (file) => file === 'docs/api/README.md' || !generated.some((dir) => file.startsWith(dir)),
  )
}

/** The relative link targets of one Markdown text, outside code (inline links and definitions). */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/^([ \t]*)(`{3,}|~{3,})[\s\S]*?^\1\2/gm, '').replace(/`[^`\n]*`/g, '')
  const links = [
    ...[...prose.matchAll(/\]\((?:<([^>]+)>|([^)\s]+))(?:\s+"[^"]*")?\)/g)].map(
      (match) => (match[1] ?? match[2])!,
    ),
    ...[...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((match) => match[1]!),
  ]
  return links.filter(
    (href) => !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('#') && !href.startsWith('/'),
  )
}

describe('links in the hand-written Markdown', () => {
  const files = handWritten()

  it('finds the docs, the READMEs and the examples', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/index.md', 'packages/core/README.md']))
  })

  it('reads links outside code only', () => {
    const text = [
      '[a](one.md) and [b](<two words.md>) and [c](https://x.test/y) and [d](#here)',
      '`[e](not-a-link.md)`',
      '```md',
      '[f](in-a-fence.md)',
      '```',
      '[g]: ../three.md',
    ].join('\n')
    expect(relativeLinks(text)).toEqual(['one.md', 'two words.md', '../three.md'])
  })

  it.each(files)('%s links only to what a checkout has', (file) => {
    const broken: string[] = []
    for (const href of relativeLinks(readFileSync(join(repoRoot, file), 'utf8'))) {
      const path = decodeURI(href.replace(/[#?].*$/, ''))
      if (path === '') continue
      const target = relative(repoRoot, join(repoRoot, dirname(file), path))
      const isGenerated =
        target !== 'docs/api/README.md' && generated.some((dir) => `${target}/`.startsWith(dir))
      if (isGenerated || !existsSync(join(repoRoot, target))) broken.push(href)
    }
    expect(broken, `links in ${file} to files a checkout does not have`).toEqual([])
  })

  it('maps a link to the packages folder and to the API README onto the site', () => {
    expect(mapLink('docs/index.md', '../packages/')).toBe('/packages/')
    expect(mapLink('docs/index.md', 'api/README.md')).toBe('/api/')
    expect(mapLink('docs/concepts.md', '../packages/adapter-dns/README.md#watch')).toBe(
      '/packages/adapter-dns.md#watch',
    )
  })
})
