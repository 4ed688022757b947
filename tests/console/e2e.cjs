// The console end to end in headless Chromium: sign in, filter failed tasks, open one,
// see the item as received and after each step, retry it, see it done; sparklines count the attempts;
// the Connections screen shows the circuit and tests a Connection; a viewer sees the buttons disabled; phone width fits.
// Run by tests/tests/console.rs, which installs Chromium and playwright-core.
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const path = require("path");

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS;
const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

async function signIn(page, token, role) {
  await page.goto(`${base}/console/`);
  await page.fill("#token", token);
  await page.click("#login button");
  await page.waitForFunction((role) => document.querySelector("#whoami").textContent.includes(role), role);
}

(async () => {
  // A fresh profile directory (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(process.env.USER_DATA_DIR, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()}`));
    page.on("request", (request) => {
      if (!request.url().startsWith(base)) errors.push(`external request: ${request.url()}`);
    });

    await signIn(page, process.env.EDITOR_TOKEN, "editor");
    await page.waitForSelector("td.count.failed");
    // The failure sparkline counts the two failed attempts of this runner's last hour.
    const failedAttempts = await page.$eval('tr[data-route="items"] .spark.failed', (e) => Number(e.dataset.total));
    if (!(failedAttempts >= 2)) throw new Error(`the failure sparkline shows ${failedAttempts}, not the 2 failed attempts`);
    if ((await page.$$('tr[data-route="items"] svg.sparkline polyline')).length !== 2) throw new Error("the route lacks its two sparklines");
    await shot(page, "1-routes");

    // Connections: the circuit state and a connection test through the API.
    await page.click('nav a[data-view="connections"]');
    await page.waitForSelector('tr[data-connection="receiver"]');
    const circuit = await page.textContent('tr[data-connection="receiver"] td.circuit');
    if (!circuit.includes("no breaker")) throw new Error(`circuit cell: ${circuit}`);
    await page.click("#test-receiver");
    await page.waitForFunction(() => /^(OK|Failed):/.test(document.querySelector("#test-result-receiver").textContent));
    const tested = await page.textContent("#test-result-receiver");
    if (!tested.startsWith("OK:")) throw new Error(`the connection test did not pass: ${tested}`);
    await shot(page, "1b-connections");

    await page.click('nav a[data-view="tasks"]');
    await page.waitForSelector("#state-filter");
    await page.selectOption("#state-filter", "failed");
    await page.fill("#text-filter", process.env.ORDER);
    await page.click("#apply-filter");
    await page.waitForFunction(() => location.hash.includes("state=failed"));
    // The unfiltered list stays on screen until the filtered one replaces it: wait for
    // the list to shrink to the one match (or time out and report what is shown).
    await page.waitForFunction(() => document.querySelectorAll(".task-row").length === 1, null, { timeout: 10000 })
      .catch(() => {});
    const rows = await page.$$eval(".task-row", (rows) => rows.map((r) => r.className));
    if (rows.length !== 1 || !rows[0].includes("failed")) throw new Error(`expected one failed task, got ${rows}`);
    await shot(page, "2-failed-tasks");

    await page.click(".task-link");
    await page.waitForSelector("#task-state.failed");
    const item = await page.textContent("#item");
    if (!item.includes(process.env.ORDER)) throw new Error(`the item is missing: ${item}`);
    // Provenance: the item as received and the item after each incoming step.
    const received = await page.textContent("#received");
    if (!received.includes(process.env.ORDER) || received.includes("seen")) throw new Error(`the item as received is wrong: ${received}`);
    const steps = await page.textContent("#steps");
    if (!steps.includes("Step 1") || !steps.includes('"seen": true')) throw new Error(`the steps are missing: ${steps}`);
    await shot(page, "3-task-failed");
    await page.click("#retry");
    await page.waitForSelector("#task-state.done", { timeout: 20000 });
    await shot(page, "4-task-done");

    // The delivery sparkline now counts the retried task's delivery.
    await page.click('nav a[data-view="routes"]');
    await page.waitForFunction(() => {
      const spark = document.querySelector('tr[data-route="items"] .spark.delivered');
      return spark && Number(spark.dataset.total) >= 1;
    }, null, { timeout: 10000 });

    await page.click('nav a[data-view="audit"]');
    await page.waitForSelector(".audit-row");
    const audit = await page.textContent("#view");
    if (!audit.includes("editor-user (token)") || !audit.includes("retry")) throw new Error(`audit lacks the retry: ${audit}`);
    await shot(page, "5-audit");

    // A viewer sees what it may not do as disabled.
    const viewer = await context.newPage();
    await viewer.setViewportSize({ width: 390, height: 844 });
    await signIn(viewer, process.env.VIEWER_TOKEN, "viewer");
    await viewer.goto(`${base}/console/#tasks?state=done`);
    await viewer.waitForSelector(".task-link");
    const overflow = await viewer.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the phone layout is ${overflow}px too wide`);
    await shot(viewer, "6-phone-tasks");
    await viewer.click(".task-link");
    await viewer.waitForSelector("#retry");
    if (!(await viewer.isDisabled("#retry"))) throw new Error("a viewer's Retry button is enabled");
    if (!(await viewer.isDisabled("#replay-1"))) throw new Error("a viewer's Replay button is enabled");
    await viewer.goto(`${base}/console/#connections`);
    await viewer.waitForSelector("#test-receiver");
    if (!(await viewer.isDisabled("#test-receiver"))) throw new Error("a viewer's Test button is enabled");
    await shot(viewer, "7-phone-task-viewer");

    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    console.log("console e2e: ok");
  } finally {
    await context.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
