/**
 * The check over the built site (scripts/check-site.ts) finds each problem it is there for, on a
 * small site written here, and passes a clean one. `pnpm docs:build` runs it on the real site.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkSite, type SiteExpectations } from '../scripts/check-site.ts'

const packages: SiteExpectations['packages'] = [
  {
    folder: 'packages/core',
    group: 'packages',
    name: 'core',
    private: false,
    npmName: '@libswarm/core',
    hasEntry: true,
  },
  {
    folder: 'packages/adapter-new',
    group: 'packages',
    name: 'adapter-new',
    private: false,
    npmName: '@libswarm/adapter-new',
    hasEntry: true,
  },
  {
    folder: 'packages/reliability-tests',
    group: 'packages',
    name: 'reliability-tests',
    private: true,
    npmName: '@libswarm/reliability-tests',
    hasEntry: false,
  },
]

const sidebar = (names: string[]) =>
  `<aside class="VPSidebar"><nav>${names.map((name) => `<a class="VPLink" href="/packages/${name}">${name}</a>`).join('')}</nav></aside>`

/** A code block the way VitePress (shiki) renders it: one span per line. */
const code = (lines: string[]) =>
  `<div class="language-ts"><pre class="shiki"><code>${lines
    .map((line) => `<span class="line"><span style="--shiki-light:#24292E">${line}</span></span>`)
    .join('\n')}</code></pre></div>`

const definedIn = (path: string) =>
  `<p>Defined in: <a href="https://github.com/libswarm/libswarm-ts/blob/main/${path}#L1" target="_blank">${path}:1</a></p>`

/** A site with no problem at all; each test breaks one thing. */
function cleanSite(): Record<string, string> {
  const nav = sidebar(['core', 'adapter-new'])
  return {
    'index.html': `<html>${nav}</html>`,
    'packages/index.html': `<html>${nav}<a href="/packages/core">core</a></html>`,
    'packages/core.html': `<html>${nav}<a href="https://github.com/x/y/tree/main/packages/reliability-tests">the tests</a></html>`,
    'packages/adapter-new.html': `<html>${nav}</html>`,
    'api/@libswarm/core.html': `<html>${nav}${code(['import { pipe } from &#39;@libswarm/core&#39;', ''])}${definedIn('packages/core/src/errors.ts')}</html>`,
    'api/@libswarm/adapter-new.html': `<html>${nav}${code(['const x = 1 // @internal is fine here'])}</html>`,
  }
}

let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

function check(site: Record<string, string>) {
  dir = mkdtempSync(join(tmpdir(), 'libswarm-docs-check-site-'))
  for (const [page, html] of Object.entries(site)) {
    mkdirSync(dirname(join(dir, page)), { recursive: true })
    writeFileSync(join(dir, page), html)
  }
  return checkSite(dir, { packages })
}

describe('the built-site check', () => {
  it('passes a clean site', () => {
    expect(check(cleanSite())).toEqual([])
  })

  it('finds a doc comment tag left in an example code block of an API page', () => {
    const site = cleanSite()
    site['api/@libswarm/adapter-new.html'] =
      `<html>${code(['const x = 1', '', '@packageDocumentation'])}</html>`
    expect(check(site)).toEqual([
      {
        page: 'api/@libswarm/adapter-new.html',
        problem: 'the doc comment tag @packageDocumentation shows in a code block',
      },
    ])
  })

  it('finds a member defined in node_modules (inherited from Error)', () => {
    const site = cleanSite()
    site['api/@libswarm/core.html'] += definedIn(
      'node_modules/.pnpm/typescript@5.9.3/node_modules/typescript/lib/lib.es5.d.ts',
    )
    const problems = check(site)
    expect(problems.map(({ problem }) => problem.split(':')[0])).toEqual([
      '"Defined in',
      'links into node_modules',
    ])
    expect(problems.every(({ page }) => page === 'api/@libswarm/core.html')).toBe(true)
  })

  it('finds a "Defined in" that names no place', () => {
    const site = cleanSite()
    site['api/@libswarm/core.html'] += '<p>Defined in:</p><h6>Parameters</h6>'
    expect(check(site)).toEqual([
      { page: 'api/@libswarm/core.html', problem: '"Defined in:" with no place after it' },
    ])
  })

  it('finds a private package in the sidebar and its page', () => {
    const site = cleanSite()
    const nav = sidebar(['core', 'adapter-new', 'reliability-tests'])
    site['packages/index.html'] = `<html>${nav}</html>`
    site['packages/reliability-tests.html'] = '<html></html>'
    expect(check(site)).toEqual([
      {
        page: 'packages/index.html',
        problem: 'links the private package @libswarm/reliability-tests (/packages/reliability-tests)',
      },
      {
        page: 'packages/reliability-tests.html',
        problem: 'a page for the private package @libswarm/reliability-tests',
      },
    ])
  })

  it('finds a published package with no page, no API page or no sidebar entry', () => {
    const site = cleanSite()
    delete site['packages/adapter-new.html']
    delete site['api/@libswarm/adapter-new.html']
    site['packages/index.html'] = `<html>${sidebar(['core'])}</html>`
    expect(check(site).map(({ problem }) => problem)).toEqual([
      'missing: the page of @libswarm/adapter-new (from packages/adapter-new/README.md)',
      'missing: the API reference of @libswarm/adapter-new',
      'the sidebar does not link the page of @libswarm/adapter-new',
    ])
  })
})
