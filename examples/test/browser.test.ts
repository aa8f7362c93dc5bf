/**
 * The browser example end to end: the Node server, and the page in headless Chromium (Debian's
 * `chromium` package; playwright-core only drives it). Skipped with a reason when Chromium is
 * missing, except in CI where that is a failure.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Started, start } from './helpers.ts'

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'
const missing = existsSync(executablePath)
  ? undefined
  : `no Chromium at ${executablePath} (apt-get install chromium)`
if (missing && process.env.CI) throw new Error(`CI is set and ${missing}`)

describe.skipIf(missing !== undefined)(
  `browser page over websocket${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let server: Started
    let browser: BrowserContext
    let profile: string

    beforeAll(async () => {
      server = start('browser/server.ts', ['0'])
      profile = mkdtempSync(join(tmpdir(), 'libswarm-chromium-'))
      ;[browser] = await Promise.all([
        // A fresh profile folder each run (--user-data-dir, which playwright passes itself).
        chromium.launchPersistentContext(profile, {
          executablePath,
          headless: true,
          timeout: 30_000,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        }),
        server.waitFor(/serving (\S+)/, 30_000),
      ])
    })
    afterAll(async () => {
      await browser?.close()
      await server?.stop()
      if (profile) rmSync(profile, { recursive: true, force: true })
    })

    it('spawns, starts, lists and watches containers of the Node service from the page', async () => {
      const [, url] = /serving (\S+)/.exec(server.output)!
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      await page.goto(url!, { timeout: 10_000 })
      await page.waitForFunction(
        () => /^(done|failed)/.test(document.getElementById('status')!.textContent ?? ''),
        undefined,
        {
          timeout: 15_000,
        },
      )
      expect(await page.textContent('#status')).toBe('done')
      const name = await page.evaluate(() => document.body.dataset.container!)
      expect((await page.textContent('#ls'))!.split('\n')).toEqual([name, 'web'].sort())
      expect(JSON.parse((await page.textContent('#get'))!)).toMatchObject({ name, state: 'running' })
      await page.waitForFunction(
        (n) => document.getElementById('events')!.textContent!.includes(`start ${n}`),
        name,
        {
          timeout: 5_000,
        },
      )
      expect(await page.textContent('#events')).toContain(`create ${name}`)
      expect(errors).toEqual([])
      await page.close()
    })
  },
)
