// The ops dashboard tested as a person would use it: start the real server, drive a small flash
// sale, open GET /ops in headless Chromium, type the admin token, and check that the figures
// the page shows are the ones /metrics reports. Saves a screenshot as an artifact.
//
//   node tests/e2e/dashboard.mjs            (scripts/test.sh installs what it needs and runs it)
//
// Environment: COMMERCE_BIN (default target/debug/commerce), CHROMIUM (default /usr/bin/chromium),
// ARTIFACTS_DIR (default target/artifacts).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.COMMERCE_BIN || join(ROOT, "target/debug/commerce");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.ARTIFACTS_DIR || join(ROOT, "target/artifacts");
const TOKEN = "e2e-admin-token";
const SKU = "HOT-E2E";
const STOCK = 150;
const BUYERS = 200;          // more buyers than stock: some answers are out_of_stock
const DECLINED = 10;         // and some payments are declined
const CONCURRENCY = 16;
const WAVES = 4;
const WAVE_PAUSE_MS = 700;
const DEADLINE_MS = 50_000;  // the whole test stops by itself well within a minute

const started = Date.now();
const remaining = () => DEADLINE_MS - (Date.now() - started);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fail(message) {
  throw new Error(message);
}

async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "commerce-e2e-"));
  const child = spawn(BIN, [], {
    env: {
      PATH: process.env.PATH,
      HTTP_ADDR: "127.0.0.1:0",
      DATA_DIR: dataDir,
      ADMIN_TOKEN: TOKEN,
      PAYMENT_TIMEOUT_MS: "300",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-4000); });
  const base = await new Promise((resolveBase, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start in 20 s: " + stderr)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.]+:[0-9]+)/);
      if (m) { clearTimeout(timer); resolveBase(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}): ${stderr}`)); });
  });
  return { child, base, dataDir };
}

async function call(base, method, path, body, headers = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
const admin = { authorization: "Bearer " + TOKEN };
const address = { name: "Ada", line1: "1 Road", city: "London", postal_code: "N1", country: "GB" };

async function seed(base) {
  const defined = await call(base, "PUT", `/v1/products/${SKU}`, { name: "Hot", price: { amount: 999, currency: "USD" } }, admin);
  if (defined.status >= 300) fail("define product: " + JSON.stringify(defined));
  const restocked = await call(base, "POST", `/v1/inventory/${SKU}/restock`, { quantity: STOCK }, admin);
  if (restocked.status >= 300) fail("restock: " + JSON.stringify(restocked));
}

/// The sale, in waves a little apart so the page's charts show it over several polls.
async function driveLoad(base) {
  const statuses = new Map();
  let next = 0, waveEnd = 0;
  async function buyer() {
    while (next < waveEnd) {
      const i = next++;
      const token = i % Math.floor(BUYERS / DECLINED) === 0 ? "tok_decline" : "tok_visa";
      const r = await call(base, "POST", "/v1/orders",
        { lines: [{ sku: SKU, quantity: 1 }], payment_token: token, shipping_address: address },
        { "idempotency-key": `e2e-${i}` });
      statuses.set(r.status, (statuses.get(r.status) || 0) + 1);
    }
  }
  for (let wave = 1; wave <= WAVES; wave++) {
    waveEnd = Math.round((BUYERS * wave) / WAVES);
    await Promise.all(Array.from({ length: CONCURRENCY }, buyer));
    await sleep(WAVE_PAUSE_MS);
  }
  // A replay counts as "replayed", not as a second confirmed order.
  await call(base, "POST", "/v1/orders",
    { lines: [{ sku: SKU, quantity: 1 }], payment_token: "tok_visa", shipping_address: address },
    { "idempotency-key": "e2e-1" });
  // One supervision event to show: a requested restart of the hot SKU's actor.
  const restart = await call(base, "POST", `/ops/actors/inventory/${SKU}/restart`, undefined, admin);
  if (restart.status !== 202) fail("restart: " + JSON.stringify(restart));
  return statuses;
}

function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}
const total = (samples, name, keep = () => true) =>
  samples.filter((s) => s.name === name && keep(s.labels)).reduce((a, s) => a + s.value, 0);

/// What the page must show, computed independently from one scrape of /metrics.
function expected(samples) {
  const figures = {
    "hibernated-total": total(samples, "actors_hibernated"),
    "activations-total": total(samples, "actor_activations_total"),
    "passivations-total": total(samples, "actor_passivations_total"),
    "restarts-total": total(samples, "actor_restarts_total"),
    "checkouts-confirmed": total(samples, "checkout_outcomes_total", (l) => l.outcome === "confirmed"),
    "mailbox-depth": total(samples, "actor_mailbox_depth"),
    "saga-in-flight": total(samples, "saga_in_flight"),
    "outbox-pending": total(samples, "outbox_pending"),
    "outbox-published": total(samples, "outbox_published_total"),
  };
  for (const t of ["product", "inventory", "cart", "order"]) {
    figures["alive-" + t] = total(samples, "actors_alive", (l) => l.actor_type === t);
  }
  return figures;
}

async function shown(page) {
  return page.$$eval("[data-testid]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.testid, e.dataset.value === "" ? null : Number(e.dataset.value)])));
}

async function main() {
  const { child, base, dataDir } = await startServer();
  let browser;
  try {
    await seed(base);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(base + "/ops");
    // The page asks for the token once.
    await page.waitForSelector("#login:not(.hidden)", { timeout: 5000 });
    await page.fill("#token", TOKEN);
    await page.click("#save-token");
    await page.waitForFunction(() => Number(document.body.dataset.polls || 0) >= 3, null, { timeout: 10_000 });
    if (await page.isVisible("#login")) fail("the token form is still shown after a good token");
    const stored = await page.evaluate(() => sessionStorage.getItem("commerce.ops.token"));
    if (stored !== TOKEN) fail("the token is not kept in sessionStorage");

    // The sale runs while the page watches.
    const statuses = await driveLoad(base);
    const confirmed = statuses.get(201) || 0;
    console.log(`load: ${[...statuses].map(([s, n]) => `${n}×${s}`).join(", ")}`);
    if (confirmed === 0 || confirmed > STOCK) fail(`confirmed ${confirmed} of stock ${STOCK}`);
    if (!statuses.get(409)) fail("expected some out_of_stock answers");
    // The relay drains the outbox in the background; wait for it so the figures settle.
    while (remaining() > 25_000) {
      const m = parseMetrics(await (await fetch(base + "/metrics")).text());
      if (total(m, "outbox_pending") === 0 && total(m, "outbox_published_total") > 0) break;
      await sleep(200);
    }

    // The page polls every second; /metrics may move between its poll and ours, so compare
    // until one poll agrees with one scrape on every figure.
    let lastDiff = null;
    while (remaining() > 8_000) {
      const want = expected(parseMetrics(await (await fetch(base + "/metrics")).text()));
      await page.waitForFunction((n) => Number(document.body.dataset.polls) > n, await page.evaluate(() => Number(document.body.dataset.polls)), { timeout: 5000 });
      const got = await shown(page);
      lastDiff = Object.entries(want).filter(([k, v]) => got[k] !== v).map(([k, v]) => `${k}: page ${got[k]} vs /metrics ${v}`);
      if (lastDiff.length === 0) break;
      await sleep(300);
    }
    if (lastDiff === null || lastDiff.length) fail("the page disagrees with /metrics: " + lastDiff);
    const got = await shown(page);
    if (got["checkouts-confirmed"] !== confirmed) fail(`page shows ${got["checkouts-confirmed"]} confirmed, clients saw ${confirmed}`);
    if (got["alive-inventory"] < 1) fail("no inventory actor shown alive");

    const hot = await page.textContent("#hot-commands");
    if (!hot.includes(SKU)) fail("the hot SKU is not in the hottest-actors table");
    const feed = await page.textContent("#feed");
    if (!feed.includes("restarted") || !feed.includes(SKU)) fail("the restart is not in the supervision feed: " + feed);
    const offsite = requests.filter((u) => !u.startsWith(base));
    if (offsite.length) fail("the page loaded something from elsewhere: " + offsite.join(", "));

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "ops-dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard matches /metrics (${Object.keys(got).length} figures); screenshot: ${shot}`);
  } finally {
    if (browser) await browser.close();
    child.kill("SIGTERM");
    await new Promise((r) => { if (child.exitCode !== null) r(); else child.on("exit", r); setTimeout(r, 10_000); });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

try {
  await main();
  console.log(`dashboard e2e finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log("e2e: 1 passed, 0 failed");
} catch (e) {
  console.error(e.stack || String(e));
  console.log("e2e: 0 passed, 1 failed");
  process.exit(1);
}
