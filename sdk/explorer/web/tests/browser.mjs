// Drives the explorer in headless Chromium (Debian's, through playwright-core) and prints
// what a person would see, as one JSON line, for the Rust test (sdk/cli/tests/it/explorer.rs)
// to check against the chain: the metagraph table's raw numbers, the height before and after
// a wait, how many plot canvases have ink, where a search for an address leads, and any page
// error. Writes a screenshot of each view under OUT.
//
// usage: node tests/browser.mjs URL NETUID ADDRESS OUT
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [url, netuid, address, out] = process.argv.slice(2);
if (!url || !netuid || !address || !out) {
  console.error("usage: node tests/browser.mjs URL NETUID ADDRESS OUT");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

/** Canvases with at least 50 non-transparent pixels (uPlot draws on canvas). */
async function inkedCanvases() {
  return page.$$eval("canvas", (cs) =>
    cs.filter((c) => {
      const ctx = c.getContext("2d");
      if (!ctx || c.width === 0 || c.height === 0) return false;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0 && ++n >= 50) return true;
      return false;
    }).length,
  );
}

const result = {};
await page.goto(`${url}/#/`);
await page.waitForSelector("#height", { timeout: 20000 });
await page.waitForFunction(() => document.querySelectorAll("canvas").length >= 2, null, { timeout: 20000 });
result.height_before = Number(await page.textContent("#live").then((t) => t.replace(/\D/g, "")));
result.chain_canvases = await inkedCanvases();
result.validators = await page.$$eval("#validators tbody tr", (r) => r.length);
result.nodes_agree = (await page.textContent("main")).includes("agree");
await page.screenshot({ path: `${out}/chain.png`, fullPage: true });
// The height must move while the page stays open (it polls once a second).
await page.waitForFunction(
  (h) => Number(document.getElementById("live")?.dataset.height ?? 0) > h,
  result.height_before,
  { timeout: 30000 },
);
result.height_after = Number(await page.$eval("#live", (e) => e.dataset.height));

await page.goto(`${url}/#/subnets`);
await page.waitForSelector("#subnets tbody tr", { timeout: 20000 });
result.subnets = await page.$$eval("#subnets tbody tr", (rows) => rows.map((r) => r.querySelector("td")?.dataset.raw));
await page.screenshot({ path: `${out}/subnets.png`, fullPage: true });

await page.goto(`${url}/#/subnet/${netuid}`);
await page.waitForSelector("#metagraph tbody tr", { timeout: 20000 });
await page.waitForFunction(() => document.querySelectorAll("canvas").length >= 1, null, { timeout: 20000 });
const heads = await page.$$eval("#metagraph thead th", (ths) => ths.map((t) => t.textContent));
result.metagraph = await page.$$eval(
  "#metagraph tbody tr",
  (rows, heads) =>
    rows.map((r) => Object.fromEntries([...r.querySelectorAll("td")].map((td, i) => [heads[i], td.dataset.raw ?? td.textContent]))),
  heads,
);
result.subnet_canvases = await inkedCanvases();
await page.screenshot({ path: `${out}/metagraph.png`, fullPage: true });
// Sorting: a click on "incentive" orders rows by it, highest first.
await page.click("#metagraph thead th:nth-child(6)");
await page.waitForFunction(() => document.body.textContent.includes("now: incentive"), null, { timeout: 10000 });
result.sorted_incentive = await page.$$eval("#metagraph tbody tr td:nth-child(6)", (tds) => tds.map((t) => Number(t.dataset.raw)));

await page.goto(`${url}/#/blocks`);
await page.waitForSelector("#blocks tbody tr", { timeout: 20000 });
result.blocks = await page.$$eval("#blocks tbody tr", (r) => r.length);
await page.screenshot({ path: `${out}/blocks.png`, fullPage: true });

await page.goto(`${url}/#/activity`);
await page.waitForFunction(() => document.querySelector("h1")?.textContent === "activity", null, { timeout: 20000 });
await page.screenshot({ path: `${out}/activity.png`, fullPage: true });

// Search from the header box, as a person would.
await page.fill("#q", address);
await page.click("#search button");
await page.waitForFunction(() => location.hash.startsWith("#/account/"), null, { timeout: 10000 });
await page.waitForSelector("#account tbody tr", { timeout: 20000 });
result.search_hash = await page.evaluate(() => location.hash);
result.account = await page.$$eval("#account tbody tr", (rows) =>
  Object.fromEntries(rows.map((r) => [r.children[0].textContent, r.children[1].dataset.raw])),
);
await page.screenshot({ path: `${out}/account.png`, fullPage: true });

result.errors = errors;
await browser.close();
console.log(JSON.stringify(result));
