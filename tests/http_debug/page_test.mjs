// Opens a running program's live task page (/debug/tasks) in headless
// Chromium (Debian's, driven by playwright-core) and checks what a reader
// relies on: the groups of debug_subject's known tasks with their counts,
// wait reasons and the leaked one marked; the function search and the wait
// filter hide the right rows; the page refreshes by itself; it loads nothing
// but its own URL and tasks.json, and raises no script error. Saves a
// screenshot.
//
//   node page_test.mjs URL SCREENSHOT.png
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, shot] = process.argv.slice(2);
let failures = 0;
function check(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    console.error(`FAIL: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    failures++;
  } else {
    console.log(`ok: ${what} = ${JSON.stringify(want)}`);
  }
}

const profile = mkdtempSync(join(tmpdir(), 'tether-page-chromium-'));
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
  const fetched = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => fetched.push(r.url()));
  // The browser asks for /favicon.ico by itself (the server has none, as
  // Go's has none): its 404 is not the page's doing.
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(new URL(r.url()).pathname); });

  await page.goto(url);
  // The first refresh fills the table.
  await page.waitForSelector('#groups tr.group', { timeout: 15000 });
  const rows = async () => page.$$eval('#groups tr.group', (trs) => trs
    .filter((tr) => tr.offsetParent !== null)
    .map((tr) => Array.from(tr.cells).map((td) => td.textContent.trim())));
  const byEntry = (all, entry) => all.filter((r) => r[4] === entry);

  let all = await rows();
  const pool = byEntry(all, 'pool_worker');
  check('pool_worker: one group', pool.length, 1);
  check('pool_worker: 7 tasks in chan receive', pool.length && [pool[0][0], pool[0][1]],
        ['7', 'waiting [chan receive]']);
  const locked = byEntry(all, 'locked_out');
  check('locked_out: 3 tasks on the mutex', locked.length && [locked[0][0], locked[0][1]],
        ['3', 'waiting [sync.Mutex.Lock]']);
  const leaked = byEntry(all, 'leaked_forever');
  check('leaked_forever: 1 task, marked leaked', leaked.length && [leaked[0][0],
        leaked[0][6].startsWith('leaked')], ['1', true]);
  check('the leaked row is red', await page.locator('#groups tr.group.leaked').count(), 1);
  const live = await page.locator('#totals').textContent();
  check('totals count the leak', /leaks found\s*1/.test(live), true);

  // Search by function: only pool_worker's group.
  await page.fill('#search', 'pool_work');
  all = await rows();
  check('search "pool_work" shows one group', all.map((r) => r[4]), ['pool_worker']);
  check('status counts what is shown', (await page.locator('#status').textContent())
    .startsWith('1 groups, 7 tasks shown'), true);
  // A frame name matches too: every parked group blocks inside tether's calls.
  await page.fill('#search', 'tt_mutex_lock');
  all = await rows();
  check('search by a frame finds the mutex waiters', all.map((r) => r[4]), ['locked_out']);
  await page.fill('#search', '');

  // The wait filter: nothing here has waited an hour.
  await page.fill('#minwait', '3600');
  check('waiting >= 1 h hides every group', (await rows()).length, 0);
  await page.fill('#minwait', '0');
  check('clearing the filter shows them again', byEntry(await rows(), 'pool_worker').length, 1);

  // A click shows the group's frames.
  await page.locator('#groups tr.group', { hasText: 'pool_worker' }).click();
  const frames = await page.locator('#groups pre.frames').first().textContent();
  check('frames open on click, naming the blocking call', frames.includes('tt_chan_recv') &&
        frames.includes('pool_worker'), true);

  // It refreshes by itself: a second tasks.json within a few seconds.
  const before = fetched.filter((u) => u.endsWith('/tasks.json')).length;
  await page.waitForTimeout(4500);
  const after = fetched.filter((u) => u.endsWith('/tasks.json')).length;
  check('refreshed by itself', after > before, true);
  check('the chart is drawn', await page.locator('#chart polyline').count(), 1);

  const origin = new URL(url).origin;
  check('loads nothing from elsewhere', fetched.filter((u) => !u.startsWith(origin)), []);
  check('fetches only the page and tasks.json',
        [...new Set(fetched.map((u) => new URL(u).pathname))].sort(),
        ['/debug/tasks', '/debug/tasks.json']);
  const ownFailures = failed.filter((p) => p !== '/favicon.ico');
  check('no request of the page failed', ownFailures, []);
  check('no script errors', errors.filter((e) => !(ownFailures.length === 0 &&
        e.startsWith('Failed to load resource'))), []);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
