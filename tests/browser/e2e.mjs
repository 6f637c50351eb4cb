// End-to-end tests of the web page in a real browser (Debian's Chromium, driven by
// playwright-core). Run by tests/browser.rs, which starts `mxdoctor serve` on lab worlds:
//   node e2e.mjs seed SEED_URL SHOT_DIR
//   node e2e.mjs hostile HOSTILE_URL SHOT_DIR
// Exits non-zero with a message on the first failed expectation.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [mode, base, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

function expect(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ locale: "en-US" });
const page = await context.newPage();
const dialogs = [];
page.on("dialog", async (d) => {
  dialogs.push(d.message());
  await d.dismiss();
});
const blocked = [];
page.on("console", (m) => {
  if (m.type() === "error") blocked.push(m.text());
});

/// Waits (bounded by the test's own deadline) until the permalink shows a verdict.
async function waitForVerdict() {
  await page.waitForSelector("#verdict", { timeout: 60000 });
}

async function seed() {
  // 1. The seed domain through the form.
  await page.goto(base + "/");
  await page.fill("#domain", "hanako-shop.example");
  await Promise.all([page.waitForURL(/\/r\/[0-9a-f]{32}$/), page.click("#check-form button[type=submit]")]);
  await waitForVerdict();
  const domainVerdict = await page.getAttribute("#verdict", "data-severity");
  expect(["pass", "warning", "fail", "notice", "info"].includes(domainVerdict), `domain verdict ${domainVerdict}`);
  expect(await page.locator('[data-id="spf.valid"]').count() > 0, "the domain report shows spf.valid");
  expect(await page.locator('[data-id="dmarc.missing"]').count() > 0, "the domain report shows dmarc.missing");
  await page.screenshot({ path: `${shots}/domain-en.png`, fullPage: true });

  // 2. The seed Send-mail-as case.
  await page.goto(base + "/");
  await page.fill("#host", "mail.hanako-shop.example");
  await page.selectOption("#port", "587");
  await Promise.all([page.waitForURL(/\/r\/[0-9a-f]{32}$/), page.click("#sendas-form button[type=submit]")]);
  await waitForVerdict();
  expect((await page.getAttribute("#verdict", "data-severity")) === "fail", "Send mail as: the verdict is fail");
  expect(await page.locator('[data-id="tls.cert.name-mismatch"]').count() === 1, "tls.cert.name-mismatch is shown");
  const title = await page.textContent("#verdict h1");
  expect(/Gmail/.test(title), `an English verdict: ${title}`);
  await page.screenshot({ path: `${shots}/sendas-en.png`, fullPage: true });

  // 3. Switch to Japanese: same report, Japanese text, and the choice sticks.
  await Promise.all([page.waitForURL(/lang=ja/), page.click("#lang-switch")]);
  await waitForVerdict();
  expect((await page.getAttribute("html", "lang")) === "ja", "the page is Japanese");
  const jaTitle = await page.textContent("#verdict h1");
  expect(/[\u3040-\u30ff\u4e00-\u9fff]/.test(jaTitle), `a Japanese verdict: ${jaTitle}`);
  expect(await page.locator('[data-id="tls.cert.name-mismatch"]').count() === 1, "the finding id in Japanese too");
  await page.screenshot({ path: `${shots}/sendas-ja.png`, fullPage: true });
  await page.goto(base + "/");
  expect((await page.getAttribute("html", "lang")) === "ja", "the language choice is kept");
}

async function hostile() {
  for (const [form, field, value] of [
    ["#check-form", "#domain", "evil.example"],
    ["#sendas-form", "#host", "mail.evil.example"],
  ]) {
    await page.goto(base + "/");
    await page.fill(field, value);
    await Promise.all([page.waitForURL(/\/r\/[0-9a-f]{32}$/), page.click(`${form} button[type=submit]`)]);
    await waitForVerdict();
    // Open every folded evidence block so the payloads are rendered, not just present.
    await page.$$eval("details", (ds) => ds.forEach((d) => (d.open = true)));
    await page.waitForTimeout(300);
    const xss = await page.evaluate(() => window.__xss);
    expect(xss === undefined, `a payload ran (window.__xss = ${xss})`);
    expect(dialogs.length === 0, `a dialog opened: ${dialogs}`);
    expect((await page.locator("img").count()) === 0, "an injected <img> exists in the page");
    expect((await page.locator("main script").count()) === 0, "an injected <script> exists in the page");
    const text = await page.textContent("main");
    const wanted = value === "evil.example" ? "<script>window.__xss=4</script>" : "<script>window.__xss=1</script>";
    expect(text.includes(wanted), `the payload ${wanted} is not shown as text`);
    if (value !== "evil.example") {
      expect(text.includes('"><img src=x onerror=window.__xss=2>'), "the attribute break-out is not shown as text");
      expect(text.includes("javascript:window.__xss=3"), "the javascript: text is not shown");
    }
    const links = await page.$$eval("a", (as) => as.map((a) => a.getAttribute("href")));
    expect(!links.some((h) => h && h.toLowerCase().startsWith("javascript:")), "a javascript: link exists");
    await page.screenshot({ path: `${shots}/hostile-${value}.png`, fullPage: true });
  }
}

try {
  if (mode === "seed") await seed();
  else if (mode === "hostile") await hostile();
  else expect(false, `unknown mode ${mode}`);
  console.log(`browser ${mode}: ok`);
} catch (e) {
  console.error(`FAILED: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
