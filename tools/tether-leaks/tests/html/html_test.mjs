// Loads tether-leaks' HTML reports in headless Chromium (Debian's, driven
// by playwright-core) and checks what a reader relies on: every group is
// rendered, the search box and the wait filter hide the right rows, a diff
// draws a chart per site, nothing is fetched from the network, and the
// page raises no script error; a watch page draws a line per site over the
// kept snapshots, marks the growing ones and reloads itself. Saves a
// screenshot of each report.
//
//   node html_test.mjs SNAPSHOT.html SNAPSHOT.json DIFF.html DIFF.json OUTDIR \
//                      [WATCH.html WATCH.json]
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [snapHtml, snapJson, diffHtml, diffJson, outDir, watchHtml, watchJson] = process.argv.slice(2);
let failures = 0;
function check(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    console.error(`FAIL: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    failures++;
  } else {
    console.log(`ok: ${what} = ${JSON.stringify(want)}`);
  }
}

const profile = mkdtempSync(join(tmpdir(), 'tether-leaks-chromium-'));
// A new profile directory each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--no-first-run', '--disable-component-update', '--disable-sync'],
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  const remote = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith('file:')) remote.push(r.url()); });
  const visible = () => page.locator('#groups tbody tr:visible').count();

  // ---- one snapshot ----
  const snap = JSON.parse(readFileSync(snapJson, 'utf8'));
  await page.goto('file://' + resolve(snapHtml));
  check('snapshot: rows rendered', await page.locator('#groups tbody tr').count(), snap.groups.length);
  check('snapshot: all rows shown', await visible(), snap.groups.length);
  check('snapshot: summary names the total',
        (await page.locator('#summary').textContent()).startsWith(`${snap.total} goroutines`), true);
  const proven = snap.groups.filter((g) => g.leaked).length;
  check('snapshot: proven leaks tagged', await page.locator('.tag.leaked').count(), proven);
  check('snapshot: suspects tagged', await page.locator('.tag.suspect').count(),
        snap.groups.filter((g) => g.suspect && !g.suspect.proven).length);

  // Search: a function that only one group's stack holds.
  const target = snap.groups.find((g) => g.suspect && !g.leaked);
  const needle = target.top_user_frame.func;
  const expectSearch = snap.groups.filter((g) =>
    [g.state, g.site.frame.func].concat(g.frames.map((f) => f.func)).join('\n')
      .toLowerCase().includes(needle.toLowerCase())).length;
  await page.fill('#search', needle);
  check(`search "${needle}"`, await visible(), expectSearch);
  check('search: counter', await page.locator('#shown').textContent(),
        `${expectSearch} of ${snap.groups.length} groups shown`);
  await page.fill('#search', '');

  // Wait filter: only groups whose oldest member waited at least 10 minutes.
  const expectWait = snap.groups.filter((g) => g.wait_s && g.wait_s.max >= 600).length;
  await page.fill('#minwait', '10');
  check('wait filter >= 10 minutes', await visible(), expectWait);
  await page.fill('#minwait', '0');
  check('wait filter cleared', await visible(), snap.groups.length);
  await page.screenshot({ path: join(outDir, 'snapshot.png'), fullPage: true });

  // ---- a diff ----
  const diff = JSON.parse(readFileSync(diffJson, 'utf8'));
  await page.goto('file://' + resolve(diffHtml));
  check('diff: group rows', await page.locator('#groups tbody tr').count(), diff.groups.length);
  check('diff: site rows', await page.locator('#sitetable tr').count() - 1, diff.sites.length);
  check('diff: one chart per site', await page.locator('#sitetable svg.chart').count(), diff.sites.length);
  check('diff: two bars per chart', await page.locator('#sitetable svg.chart rect').count(),
        2 * diff.sites.length);
  const grown = diff.sites.filter((s) => s.delta > 0)[0];
  const labels = await page.locator('#sitetable tr').nth(1).locator('svg text').allTextContents();
  check('diff: the first chart shows before and after', labels,
        [String(diff.sites[0].before), String(diff.sites[0].after)]);
  check('diff: some site grew', grown !== undefined, true);
  await page.screenshot({ path: join(outDir, 'diff.png'), fullPage: true });

  // ---- a watch (its last snapshot) ----
  if (watchHtml) {
    const w = JSON.parse(readFileSync(watchJson, 'utf8'));
    await page.goto('file://' + resolve(watchHtml));
    check('watch: site rows', await page.locator('#sitetable tr').count() - 1, w.sites.length);
    check('watch: one line chart per site', await page.locator('#sitetable svg.chart polyline').count(),
          w.sites.length);
    check('watch: growing sites marked', await page.locator('#sitetable tr.leaked').count(), w.ngrowing);
    check('watch: some site kept growing', w.ngrowing > 0, true);
    const first = w.sites[0];
    check('watch: the first chart ends at the newest count',
          await page.locator('#sitetable tr').nth(1).locator('svg text').textContent(),
          String(first.counts[first.counts.length - 1]));
    check('watch: a point per kept snapshot',
          (await page.locator('#sitetable tr').nth(1).locator('polyline').getAttribute('points'))
            .split(' ').length, w.snapshots.length);
    check('watch: group rows (one per site)', await page.locator('#groups tbody tr').count(), w.sites.length);
    check('watch: summary names the snapshot',
          (await page.locator('#summary').textContent()).startsWith(
            `snapshot ${w.snapshots[w.snapshots.length - 1].seq} of `), true);
    check('watch: the page reloads itself every --every', await page.evaluate(() => REFRESH_S), 3);
    await page.screenshot({ path: join(outDir, 'watch.png'), fullPage: true });
  }

  check('no script errors', errors, []);
  check('no network requests', remote, []);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures ? `${failures} failed` : 'all HTML checks passed');
process.exit(failures ? 1 : 0);
