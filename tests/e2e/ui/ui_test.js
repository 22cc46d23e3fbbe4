#!/usr/bin/env node
// The /ui dashboard in headless Chromium, against a running crmsync that has
// exactly one dead letter (started by tests/e2e/ui_test.cpp, which also checks
// the server side afterwards).
//
//   node ui_test.js --playwright <dir of playwright-core> --chromium /usr/bin/chromium
//                   --url http://127.0.0.1:<port>/ui --token <admin token>
//                   --dead-letter <id> --lead <lead id> --user-data-dir <fresh dir>
//                   --out <dir for screenshots>
//
// Steps: a wrong token is refused; the right one shows the queue figures, the
// success rate, the latency and circuit cards and the dead letter's row; a
// screenshot goes to <out>/dashboard.png; Replay is clicked and the row must
// show "replayed" or disappear; <out>/dashboard-replayed.png is saved. Console
// errors and page errors (a CSP violation, a script error) fail the test.
// Prints one line "ui_test: ok ..." or "ui_test: FAIL <why>"; exit 0 or 1.
'use strict';

const path = require('path');

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error('bad argument ' + argv[i]);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const required of ['playwright', 'chromium', 'url', 'token', 'dead-letter', 'lead', 'user-data-dir',
                          'out']) {
    if (!args[required]) throw new Error('missing --' + required);
  }
  return args;
}

const STEP_TIMEOUT_MS = 20000;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { chromium } = require(path.resolve(args.playwright));
  const problems = [];
  let step = 'launch chromium';
  const context = await chromium.launchPersistentContext(args['user-data-dir'], {
    executablePath: args.chromium,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60000,
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      // The wrong-token step answers 401 on purpose; Chromium logs that as a
      // failed resource load.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push('console error: ' + m.text());
    });

    step = 'open ' + args.url;
    const response = await page.goto(args.url);
    if (!response || response.status() !== 200) throw new Error('GET /ui answered ' + (response && response.status()));

    step = 'a wrong token is refused';
    await page.fill('#token', 'not-the-token');
    await page.click('#connect');
    await page.waitForFunction(() => /refused/.test(document.getElementById('login-error').textContent));
    if (!(await page.isVisible('#login'))) throw new Error('the login form is not shown again after a wrong token');

    step = 'sign in';
    await page.fill('#token', args.token);
    await page.click('#connect');
    await page.waitForSelector('#dashboard', { state: 'visible' });

    step = 'the dead letter row appears';
    const row = '#dlq-' + args['dead-letter'];
    await page.waitForSelector(row + ' button.replay', { state: 'visible' });

    step = 'the queue figures';
    await page.waitForFunction(() => document.getElementById('queue-dead').textContent === '1');
    const figures = {};
    for (const id of ['queue-ready', 'queue-queued', 'queue-delayed', 'queue-leased', 'queue-dead',
                      'queue-done', 'success-rate', 'latency-p50', 'latency-p99', 'circuit-state',
                      'sync-enabled', 'health']) {
      figures[id] = (await page.textContent('#' + id)).trim();
    }
    for (const id of ['queue-ready', 'queue-queued', 'queue-delayed', 'queue-leased', 'queue-done']) {
      if (!/^\d+$/.test(figures[id])) throw new Error(id + ' is not a number: ' + JSON.stringify(figures[id]));
    }
    // One CRM call, refused with 422.
    if (figures['success-rate'] !== '0.0 %') throw new Error('success rate: ' + figures['success-rate']);
    for (const id of ['latency-p50', 'latency-p99']) {
      if (!/^(n\/a|\d+(\.\d+)? m?s)$/.test(figures[id])) throw new Error(id + ': ' + figures[id]);
    }
    if (figures['circuit-state'] !== 'closed') throw new Error('circuit: ' + figures['circuit-state']);
    if (figures['sync-enabled'] !== 'enabled') throw new Error('sync: ' + figures['sync-enabled']);
    if (figures.health !== 'dead letters') throw new Error('health pill: ' + figures.health);

    step = 'the last reconcile';
    await page.waitForFunction(() => document.getElementById('reconcile-missing') !== null);
    const missing = (await page.textContent('#reconcile-missing')).trim();
    if (missing !== '1') throw new Error('reconcile missing: ' + missing);
    const summary = (await page.textContent('#reconcile-summary')).trim();
    if (!/^done, finished .* · not repaired$/.test(summary)) throw new Error('reconcile summary: ' + summary);
    step = 'the backfill card';
    await page.waitForFunction(() => /2 of 4 lines/.test(document.getElementById('backfill-lines').textContent));
    const backfill = (await page.textContent('#backfill-figures')).trim();
    if (backfill !== '0 accepted, 0 duplicates, 2 invalid') throw new Error('backfill card: ' + backfill);
    if (!/ui-run: importing/.test(await page.textContent('#backfill-state'))) {
      throw new Error('backfill state: ' + (await page.textContent('#backfill-state')));
    }
    const cells = await page.$$eval(row + ' td', (tds) => tds.map((td) => td.textContent));
    if (cells[1] !== 'lead:' + args.lead || cells[3] !== 'invalid_record') {
      throw new Error('dead letter row: ' + JSON.stringify(cells));
    }

    step = 'screenshot';
    await page.screenshot({ path: path.join(args.out, 'dashboard.png'), fullPage: true });

    step = 'replay';
    await page.click(row + ' button.replay');
    await page.waitForFunction((selector) => {
      const tr = document.querySelector(selector);
      return tr === null || /replayed/.test(tr.textContent);
    }, row);
    // The next refresh no longer lists it (open dead letters only).
    await page.waitForSelector(row, { state: 'detached' });
    await page.waitForFunction(() => document.getElementById('queue-dead').textContent === '0');
    await page.screenshot({ path: path.join(args.out, 'dashboard-replayed.png'), fullPage: true });

    if (problems.length > 0) throw new Error(problems.join('; '));
    console.log('ui_test: ok ' + JSON.stringify(figures));
  } catch (e) {
    try {
      const page = context.pages()[0];
      if (page) await page.screenshot({ path: path.join(args.out, 'dashboard-failure.png'), fullPage: true });
    } catch (ignored) { /* the failure below is what matters */ }
    throw new Error(step + ': ' + e.message.split('\n')[0] +
                    (problems.length > 0 ? ' (also: ' + problems.join('; ') + ')' : ''));
  } finally {
    await context.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.log('ui_test: FAIL ' + e.message);
  process.exit(1);
});
