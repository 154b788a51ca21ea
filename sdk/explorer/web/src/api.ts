// The explorer server's JSON API (sdk/explorer/src/api.rs): one fetch per view. Amounts are
// rao in decimal strings; fractions are u16 (65535 = 1).

export interface Overview {
  chain_id: string;
  height: number;
  block_interval_ms: number;
  validators: { address: string; power: number }[];
  nodes: { url: string; height: number | null; app_hash: string | null }[];
  app_hash_height: number;
  supply: { total_issuance: string; total_minted: string; total_recycled: string; cap: string };
  schedule: { halvings: string[]; reward_now: string };
}

export interface SubnetRow {
  netuid: number;
  task: string | null;
  owner: string;
  share: number;
  pot_rao: string;
  usage_rao: string;
  n: number;
  tempo: number;
  last_epoch: number;
}

export interface MetagraphRow {
  uid: number;
  hotkey: string;
  coldkey: string;
  stake_rao: string;
  permit: boolean;
  active: boolean;
  consensus: number;
  incentive: number;
  dividends: number;
  trust: number;
  emission_rao: string;
  last_update: number;
  registered_at: number;
  axon: { endpoint: string; protocol: number; block: number } | null;
}

export interface History {
  epochs: number[];
  incentive: Record<string, (number | null)[]>;
}

export interface TxView {
  hash: string;
  height: number;
  code: number;
  log: string;
  gas_used: number;
  events: { type: string; attributes: Record<string, string> }[];
}

export interface BlockView {
  height: number;
  time: string;
  hash: string;
  proposer: string;
  txs: TxView[];
  events: { type: string; attributes: Record<string, string> }[];
}

export interface Activity {
  channels: Record<string, string | number | boolean>[];
  proposals: Record<string, string | number | boolean>[];
  jobs: Record<string, string | number | boolean | null>[];
}

export interface SearchResult {
  kind: "account" | "block" | "tx" | "none";
  target: string;
  message?: string;
}

export async function get<T>(path: string): Promise<T> {
  const r = await fetch(`./api/${path}`);
  if (!r.ok) {
    const text = await r.text();
    throw new Error(`${r.status}: ${text}`);
  }
  return (await r.json()) as T;
}
