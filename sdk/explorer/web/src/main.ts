// The explorer page: a hash router over the views (chain, subnets, a subnet's metagraph,
// blocks, activity, an account, a block, a transaction), live by polling the explorer
// server once a second and redrawing the current view when the height moves.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import {
  get,
  type Activity,
  type BlockView,
  type History,
  type MetagraphRow,
  type Overview,
  type SearchResult,
  type SubnetRow,
  type TxView,
} from "./api";

const RAO_PER_TAO = 1_000_000_000n;
const page = document.getElementById("page") as HTMLElement;
const live = document.getElementById("live") as HTMLElement;
let height = 0;
let plots: uPlot[] = [];
let sort: { key: keyof MetagraphRow; desc: boolean } = { key: "uid", desc: false };

function esc(s: unknown): string {
  return String(s ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** rao (decimal string) as TAO with up to 9 decimals. */
export function tao(rao: string): string {
  const v = BigInt(rao);
  const whole = v / RAO_PER_TAO;
  const frac = (v % RAO_PER_TAO).toString().padStart(9, "0").replace(/0+$/, "");
  return `${whole.toLocaleString("en-US")}${frac ? "." + frac : ""} TAO`;
}

function taoNumber(rao: string): number {
  return Number(BigInt(rao) / 1_000_000n) / 1000;
}

function fraction(u16: number): string {
  return (u16 / 65535).toFixed(4);
}

function short(addr: string): string {
  return addr.length > 20 ? `${addr.slice(0, 10)}…${addr.slice(-6)}` : addr;
}

function link(addr: string): string {
  return `<a href="#/account/${esc(addr)}" title="${esc(addr)}">${esc(short(addr))}</a>`;
}

function table(id: string, head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th data-key="${esc(h)}">${esc(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.join("")}</tr>`).join("");
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function td(text: string, raw?: string | number | boolean): string {
  const data = raw === undefined ? "" : ` data-raw="${esc(raw)}"`;
  return `<td${data}>${text}</td>`;
}

function clearPlots() {
  plots.forEach((p) => p.destroy());
  plots = [];
}

function plot(el: HTMLElement, title: string, data: uPlot.AlignedData, series: uPlot.Series[]) {
  const width = Math.max(320, Math.min(900, el.clientWidth || 900));
  const opts: uPlot.Options = {
    title,
    width,
    height: 260,
    scales: { x: { time: false } },
    axes: [{}, { size: 90 }],
    series: [{}, ...series],
  };
  plots.push(new uPlot(opts, data, el));
}

async function chainView() {
  const o = await get<Overview>("overview");
  const series = await get<[number, string][]>("issuance");
  const agree = new Set(o.nodes.map((n) => n.app_hash).filter((h) => h)).size <= 1;
  page.innerHTML = `
    <h1>chain ${esc(o.chain_id)}</h1>
    <section class="cards">
      <div class="card"><b id="height">${o.height}</b><span>height</span></div>
      <div class="card"><b>${(o.block_interval_ms / 1000).toFixed(2)} s</b><span>block interval</span></div>
      <div class="card"><b>${o.validators.length}</b><span>validators</span></div>
      <div class="card"><b>${agree ? "agree" : "DIFFER"}</b><span>app hashes at ${o.app_hash_height}</span></div>
    </section>
    <h2>validators</h2>
    ${table("validators", ["address", "voting power"], o.validators.map((v) => [td(esc(v.address)), td(String(v.power), v.power)]))}
    <h2>nodes</h2>
    ${table("nodes", ["rpc", "height", `app hash at ${o.app_hash_height}`], o.nodes.map((n) => [td(esc(n.url)), td(String(n.height ?? "down")), td(`<code>${esc(n.app_hash ?? "-")}</code>`)]))}
    <h2>TAO</h2>
    <section class="cards">
      <div class="card"><b id="issuance">${tao(o.supply.total_issuance)}</b><span>issued</span></div>
      <div class="card"><b>${tao(o.supply.total_minted)}</b><span>minted</span></div>
      <div class="card"><b>${tao(o.supply.total_recycled)}</b><span>recycled</span></div>
      <div class="card"><b>${tao(o.supply.cap)}</b><span>cap</span></div>
      <div class="card"><b>${tao(o.schedule.reward_now)}</b><span>reward per block now</span></div>
    </section>
    <div id="plot-recent" class="plot"></div>
    <div id="plot-schedule" class="plot"></div>`;
  clearPlots();
  const xs = series.map((p) => p[0]);
  plot(document.getElementById("plot-recent")!, "issuance as blocks arrive (TAO)", [xs, series.map((p) => taoNumber(p[1]))], [
    { label: "issued", stroke: "#2a7" },
  ]);
  // The schedule: 1 TAO per block until issuance reaches each halving threshold.
  const halvings = o.schedule.halvings.map(taoNumber);
  const cap = taoNumber(o.supply.cap);
  const bx: number[] = [0];
  const by: number[] = [0];
  let issued = 0;
  let block = 0;
  let reward = 1;
  for (const t of halvings) {
    block += (t - issued) / reward;
    issued = t;
    reward /= 2;
    bx.push(block / 1e6);
    by.push(issued / 1e6);
  }
  const now = taoNumber(o.supply.total_issuance) / 1e6;
  plot(
    document.getElementById("plot-schedule")!,
    "issuance schedule (M TAO by M blocks): halvings at each threshold, the cap, and now",
    [bx, by, bx.map(() => cap / 1e6), bx.map((_, i) => (i === 0 ? now : null))],
    [
      { label: "schedule", stroke: "#36c" },
      { label: "cap", stroke: "#c33", dash: [6, 4] },
      { label: "issued now", stroke: "#2a7", points: { size: 9 } },
    ],
  );
}

async function subnetsView() {
  const rows = await get<SubnetRow[]>("subnets");
  page.innerHTML = `<h1>subnets</h1>${table(
    "subnets",
    ["netuid", "task", "owner", "UIDs", "emission share", "pot", "usage paid", "last epoch"],
    rows.map((s) => [
      td(`<a href="#/subnet/${s.netuid}">${s.netuid}</a>`, s.netuid),
      td(esc(s.task ?? "contract")),
      td(link(s.owner)),
      td(String(s.n), s.n),
      td(`${(s.share * 100).toFixed(2)}%`, s.share),
      td(tao(s.pot_rao), s.pot_rao),
      td(tao(s.usage_rao), s.usage_rao),
      td(String(s.last_epoch), s.last_epoch),
    ]),
  )}`;
}

function sortRows(rows: MetagraphRow[]): MetagraphRow[] {
  const k = sort.key;
  const value = (r: MetagraphRow) => {
    const v = r[k];
    return typeof v === "string" && /^\d+$/.test(v) ? Number(v) : (v as number | string);
  };
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const c = x < y ? -1 : x > y ? 1 : 0;
    return sort.desc ? -c : c;
  });
}

const COLUMNS: [string, keyof MetagraphRow][] = [
  ["uid", "uid"],
  ["hotkey", "hotkey"],
  ["stake", "stake_rao"],
  ["trust", "trust"],
  ["consensus", "consensus"],
  ["incentive", "incentive"],
  ["dividends", "dividends"],
  ["emission", "emission_rao"],
  ["axon", "axon"],
  ["last update", "last_update"],
];

async function subnetView(netuid: number) {
  const [rows, history] = await Promise.all([get<MetagraphRow[]>(`metagraph/${netuid}`), get<History>(`history/${netuid}`)]);
  const body = sortRows(rows).map((r) => [
    td(String(r.uid), r.uid),
    td(link(r.hotkey)),
    td(tao(r.stake_rao), r.stake_rao),
    td(fraction(r.trust), r.trust),
    td(fraction(r.consensus), r.consensus),
    td(fraction(r.incentive), r.incentive),
    td(fraction(r.dividends), r.dividends),
    td(tao(r.emission_rao), r.emission_rao),
    td(esc(r.axon?.endpoint ?? ""), r.axon?.endpoint ?? ""),
    td(String(r.last_update), r.last_update),
  ]);
  page.innerHTML = `<h1>subnet ${netuid}: metagraph</h1>
    <p>click a column to sort (now: ${esc(sort.key)}, ${sort.desc ? "descending" : "ascending"})</p>
    ${table("metagraph", COLUMNS.map((c) => c[0]), body)}
    <div id="plot-incentive" class="plot"></div>`;
  page.querySelectorAll<HTMLElement>("#metagraph th").forEach((th, i) => {
    th.onclick = () => {
      const key = COLUMNS[i][1];
      sort = { key, desc: sort.key === key ? !sort.desc : true };
      void render();
    };
  });
  clearPlots();
  const uids = Object.keys(history.incentive);
  plot(
    document.getElementById("plot-incentive")!,
    `incentive per miner over the last ${history.epochs.length} epochs (by epoch block)`,
    [history.epochs, ...uids.map((u) => history.incentive[u].map((v) => (v === null ? null : v / 65535)))],
    uids.map((u, i) => ({ label: `UID ${u}`, stroke: `hsl(${(i * 67) % 360} 60% 45%)` })),
  );
}

function events(list: { type: string; attributes: Record<string, string> }[]): string {
  return list
    .map(
      (e) =>
        `<div class="event"><b>${esc(e.type)}</b> ${Object.entries(e.attributes)
          .map(([k, v]) => `${esc(k)}=<code>${esc(v.length > 70 ? v.slice(0, 70) + "…" : v)}</code>`)
          .join(" ")}</div>`,
    )
    .join("");
}

function txRow(t: TxView): string[] {
  return [
    td(`<a href="#/tx/${esc(t.hash)}">${esc(t.hash.slice(0, 16))}…</a>`, t.hash),
    td(String(t.height), t.height),
    td(t.code === 0 ? "ok" : `failed ${t.code}: ${esc(t.log)}`, t.code),
    td(String(t.gas_used), t.gas_used),
    td(events(t.events)),
  ];
}

async function blocksView() {
  const blocks = await get<BlockView[]>("blocks?limit=20");
  page.innerHTML = `<h1>recent blocks</h1>${table(
    "blocks",
    ["height", "time", "proposer", "txs", "transactions and their events"],
    blocks.map((b) => [
      td(`<a href="#/block/${b.height}">${b.height}</a>`, b.height),
      td(esc(b.time)),
      td(`<code>${esc(b.proposer.slice(0, 12))}</code>`),
      td(String(b.txs.length), b.txs.length),
      td(b.txs.map((t) => `<div><a href="#/tx/${esc(t.hash)}">${esc(t.hash.slice(0, 12))}…</a> ${t.code === 0 ? "" : "failed"} ${events(t.events)}</div>`).join("")),
    ]),
  )}`;
}

async function blockView(h: number) {
  const b = await get<BlockView>(`block/${h}`);
  page.innerHTML = `<h1>block ${b.height}</h1><p>${esc(b.time)} · hash <code>${esc(b.hash)}</code> · proposer <code>${esc(b.proposer)}</code></p>
    <h2>transactions</h2>${table("txs", ["hash", "height", "result", "gas", "events"], b.txs.map(txRow))}
    <h2>block events</h2>${events(b.events)}`;
}

async function txView(hash: string) {
  const t = await get<TxView>(`tx/${hash}`);
  page.innerHTML = `<h1>transaction</h1>${table("tx", ["hash", "height", "result", "gas", "events"], [txRow(t)])}`;
}

async function accountView(addr: string) {
  const a = await get<Record<string, unknown>>(`account/${addr}`);
  const rows = Object.entries(a).map(([k, v]) => [td(esc(k)), td(`<code>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</code>`, String(v))]);
  page.innerHTML = `<h1>account ${esc(addr)}</h1>${table("account", ["field", "value"], rows)}`;
}

function recordTable(id: string, rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return `<p id="${id}">none</p>`;
  const head = Object.keys(rows[0]);
  return table(id, head, rows.map((r) => head.map((k) => td(esc(r[k]), String(r[k])))));
}

async function activityView() {
  const a = await get<Activity>("activity");
  page.innerHTML = `<h1>activity</h1>
    <h2>matmul jobs</h2>${recordTable("jobs", a.jobs)}
    <h2>payment channels</h2>${recordTable("channels", a.channels)}
    <h2>governance proposals</h2>${recordTable("proposals", a.proposals)}`;
}

async function render() {
  const route = location.hash.replace(/^#\/?/, "").split("/");
  try {
    switch (route[0]) {
      case "":
        return await chainView();
      case "subnets":
        return await subnetsView();
      case "subnet":
        return await subnetView(Number(route[1]));
      case "blocks":
        return await blocksView();
      case "block":
        return await blockView(Number(route[1]));
      case "tx":
        return await txView(route[1]);
      case "account":
        return await accountView(route[1]);
      case "activity":
        return await activityView();
      default:
        page.innerHTML = `<h1>not found</h1>`;
    }
  } catch (e) {
    page.innerHTML = `<h1>error</h1><p class="error">${esc(e)}</p>`;
  }
}

let ticking = false;

async function tick() {
  // One poll (and render) at a time: a slow render is never overtaken by an older one.
  if (ticking) return;
  ticking = true;
  try {
    const s = await get<{ height: number }>("height");
    live.textContent = `height ${s.height}`;
    live.dataset.height = String(s.height);
    if (s.height !== height) {
      height = s.height;
      // Redraw views that change with blocks; pages of one block or tx stay put.
      if (!/^#\/(block|tx)\//.test(location.hash)) await render();
    }
  } catch {
    live.textContent = "node unreachable";
  } finally {
    ticking = false;
  }
}

document.getElementById("search")!.addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = (document.getElementById("q") as HTMLInputElement).value.trim();
  const r = await get<SearchResult>(`search?q=${encodeURIComponent(q)}`);
  if (r.kind === "none") {
    page.innerHTML = `<h1>nothing found</h1><p>${esc(r.message ?? q)}</p>`;
  } else {
    location.hash = `#/${r.kind}/${r.target}`;
  }
});

window.addEventListener("hashchange", () => void render());
void render();
setInterval(() => void tick(), 1000);
void tick();
