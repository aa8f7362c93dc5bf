/**
 * The workspace's own rules, checked: every transport and adapter package is complete (README with
 * an example, a compliance test, a package.json ready for changesets and npm, a changeset),
 * dependencies point down (apps -> adapters/transports -> core; never sideways), and plugins share
 * the app's @libswarm/core (a peer dependency) instead of pinning their own.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import getReleasePlan from '@changesets/get-release-plan'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

interface PackageJson {
  name: string
  private?: boolean
  type?: string
  license?: string
  engines?: { node?: string }
  exports?: Record<string, unknown>
  publishConfig?: { access?: string; exports?: unknown }
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

function workspacePackages(group: string): { dir: string; folder: string; pkg: PackageJson }[] {
  const base = join(root, group)
  if (!existsSync(base)) return []
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(base, entry.name, 'package.json')))
    .map((entry) => ({
      dir: join(base, entry.name),
      folder: entry.name,
      pkg: JSON.parse(readFileSync(join(base, entry.name, 'package.json'), 'utf8')) as PackageJson,
    }))
}

// Private packages (test-only, never published: packages/reliability-tests) are not held to the publish rules.
const packages = workspacePackages('packages').filter(({ pkg }) => pkg.private !== true)
const plugins = packages.filter(
  ({ folder }) => /^(transport|adapter)-/.test(folder) && !folder.endsWith('-compliance'),
)
/**
 * Libraries that sibling adapters share (docs/DESIGN: code shared by sibling adapters lives in a
 * package both depend on): packages/* that are neither core, an adapter, a transport nor a compliance
 * suite. They depend on core only.
 */
const SHARED_LIBRARIES = new Set(
  packages
    .filter(({ folder }) => folder !== 'core' && !/^(transport|adapter)-/.test(folder))
    .map(({ pkg }) => pkg.name),
)
const changesets = existsSync(join(root, '.changeset'))
  ? readdirSync(join(root, '.changeset'))
      .filter((file) => file.endsWith('.md') && file !== 'README.md')
      .map((file) => readFileSync(join(root, '.changeset', file), 'utf8'))
      .join('\n')
  : ''

describe('workspace rules', () => {
  it('finds the packages it checks', () => {
    expect(packages.map((p) => p.folder)).toContain('core')
  })

  it('has changesets that changesets can parse (frontmatter of "name": bump lines)', () => {
    const names = new Set(workspacePackages('packages').map((p) => p.pkg.name))
    for (const app of workspacePackages('apps')) names.add(app.pkg.name)
    const files = readdirSync(join(root, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      const text = readFileSync(join(root, '.changeset', file), 'utf8')
      const match = /^---\n((?:.+\n)+?)---\n\n?\S/.exec(text)
      expect(match, `.changeset/${file} has no frontmatter block`).not.toBeNull()
      for (const line of match![1]!.trimEnd().split('\n')) {
        const entry = /^"(@libswarm\/[a-z0-9-]+)": (major|minor|patch)$/.exec(line)
        expect(entry, `.changeset/${file}: bad frontmatter line ${JSON.stringify(line)}`).not.toBeNull()
        expect(names.has(entry![1]!), `.changeset/${file} names unknown package ${entry![1]}`).toBe(true)
      }
    }
  })

  it('plans no major release nobody asked for (the peer-range trap of a 0.x core)', async () => {
    // Changesets releases a peer dependent as a major when core's new version leaves the plugin's
    // peer range. From core 1.0.0 on, only a core major does that; on 0.x every core minor would
    // (docs/RELEASING.md, "How a core release moves the plugins"). The plan is what
    // `changeset status` prints, read from .changeset/ without git.
    const plan = await getReleasePlan(root)
    // Private packages appear with type "none".
    const releases = plan.releases.filter((r) => r.type !== 'none')
    const asked = new Set(
      plan.changesets.flatMap((c) => c.releases.filter((r) => r.type === 'major').map((r) => r.name)),
    )
    const core = releases.find((r) => r.name === '@libswarm/core')
    const unasked = releases
      .filter((r) => r.type === 'major' && !asked.has(r.name) && core?.type !== 'major')
      .map((r) => `${r.name} ${r.newVersion}`)
    expect(
      unasked,
      `majors no changeset asked for, next to core ${core?.newVersion}: see docs/RELEASING.md`,
    ).toEqual([])
    // Published packages are 1.0.0 or later: a 0.x core would set the trap above again.
    const below1 = releases.filter((r) => r.newVersion.startsWith('0.')).map((r) => r.name)
    expect(below1, 'packages the plan releases below 1.0.0').toEqual([])
  })

  describe.each(packages.map((p) => ({ ...p, label: p.folder })))(
    'package $label',
    ({ dir, folder, pkg }) => {
      it('is named after its folder in the @libswarm scope', () => {
        expect(pkg.name).toBe(`@libswarm/${folder}`)
      })

      it('is changeset- and npm-ready (module, engines, license, exports, public access)', () => {
        expect(pkg.type).toBe('module')
        expect(pkg.engines?.node).toBeTruthy()
        expect(pkg.license).toBeTruthy()
        expect(pkg.exports?.['.']).toBeTruthy()
        expect(pkg.private).not.toBe(true)
        expect(pkg.publishConfig?.access).toBe('public')
      })

      it('has a README with a runnable example', () => {
        const readme = join(dir, 'README.md')
        expect(existsSync(readme), `${folder}/README.md is missing`).toBe(true)
        expect(readFileSync(readme, 'utf8')).toMatch(/```(ts|typescript|js|sh)/)
      })

      it('has a changeset', () => {
        expect(changesets, `no .changeset/*.md mentions ${pkg.name}`).toContain(`"${pkg.name}"`)
      })

      it('depends only downward on workspace packages', () => {
        const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((d) =>
          d.startsWith('@libswarm/'),
        )
        if (folder === 'core') expect(deps).toEqual([])
        if (folder.startsWith('transport-') && !folder.endsWith('-compliance')) {
          expect(deps.filter((d) => d !== '@libswarm/core')).toEqual([])
        }
        if (folder.startsWith('adapter-') && !folder.endsWith('-compliance')) {
          // Besides core, an adapter may take a library its sibling adapters share (@libswarm/cloud),
          // never another adapter, a transport or an app.
          expect(deps.filter((d) => d !== '@libswarm/core' && !SHARED_LIBRARIES.has(d))).toEqual([])
        }
        if (SHARED_LIBRARIES.has(pkg.name)) expect(deps.filter((d) => d !== '@libswarm/core')).toEqual([])
      })
    },
  )

  // One @libswarm/core per install, whatever release each package came from: a plugin takes the
  // app's copy (a peer, published as ^x.y.z), an app brings it (a dependency, ^x.y.z). Pinned exact
  // versions would give npm two copies, and instanceof on core's classes would fail across them.
  describe.each(
    packages
      .filter(({ folder }) => /^(transport|adapter)-/.test(folder))
      .map((p) => ({ ...p, label: p.folder })),
  )('plugin or compliance suite $label', ({ pkg }) => {
    it('takes @libswarm/core as a peer "workspace:^" plus a devDependency "workspace:*", not a dependency', () => {
      expect(pkg.dependencies?.['@libswarm/core']).toBeUndefined()
      // `workspace:^x.y.z` when the plugin needs a core newer than the one it is published with.
      expect(pkg.peerDependencies?.['@libswarm/core']).toMatch(/^workspace:\^(\d+\.\d+\.\d+\S*)?$/)
      expect(pkg.devDependencies?.['@libswarm/core']).toBe('workspace:*')
    })
  })

  describe.each(
    workspacePackages('apps')
      .filter(({ pkg }) => pkg.private !== true)
      .map((p) => ({ ...p, label: p.folder })),
  )('app $label', ({ pkg }) => {
    it('takes @libswarm/core as a dependency "workspace:^"', () => {
      expect(pkg.dependencies?.['@libswarm/core']).toBe('workspace:^')
      expect(pkg.peerDependencies?.['@libswarm/core']).toBeUndefined()
    })
  })

  describe.each(plugins.map((p) => ({ ...p, label: p.folder })))('plugin $label', ({ dir, folder }) => {
    it('runs the shared compliance suite', () => {
      const file = join(dir, 'test', 'compliance.test.ts')
      expect(existsSync(file), `${folder}/test/compliance.test.ts is missing`).toBe(true)
      const kind = folder.startsWith('transport-') ? 'transport' : 'adapter'
      expect(readFileSync(file, 'utf8')).toContain(`@libswarm/${kind}-compliance`)
    })
  })
})
