//! [`Sandbox`], an in-memory stand-in for the chain that runs contracts in the real VM
//! (like cw-multi-test: code, contracts, namespaced storage and balances in memory, nested
//! queries resolved through the same VM), used by the VM's tests, SDK users' tests and
//! `tao vm run`; [`MapHost`], a one-contract host for benchmarks; and [`contract_wasm`],
//! which finds (or builds, with `cargo`) the example contracts for tests.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use taochain_vm_abi::{Call, Env, MessageInfo};

use taochain_vm::{CallOutcome, Entry, Host, HostError, Next, ValidationError, Vm};

/// Chain state the mock keeps.
#[derive(Default)]
pub struct SandboxState {
    /// Code by checksum.
    pub codes: BTreeMap<[u8; 32], Vec<u8>>,
    /// Contract address -> code checksum.
    pub contracts: BTreeMap<[u8; 20], [u8; 32]>,
    /// (contract, key) -> value.
    pub storage: BTreeMap<([u8; 20], Vec<u8>), Vec<u8>>,
    /// Balances.
    pub balances: BTreeMap<[u8; 20], u64>,
}

/// The mock chain.
pub struct Sandbox {
    /// The real VM.
    pub vm: Vm,
    /// State.
    pub state: SandboxState,
    /// Block environment (the contract address is filled per call).
    pub env: Env,
    /// Gas limit per call.
    pub gas_limit: u64,
    next_id: u64,
}

struct SandboxHost<'a> {
    vm: &'a Vm,
    state: &'a mut SandboxState,
    contract: [u8; 20],
    env: &'a Env,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh mock chain with an in-memory module cache.
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let vm = Vm::new(None).expect("engine builds");
        Sandbox {
            vm,
            state: SandboxState::default(),
            env: Env {
                height: 1,
                chain_id: "mock".into(),
                ..Env::default()
            },
            gas_limit: 1_000_000_000,
            next_id: 0,
        }
    }

    /// Stores code; returns its checksum.
    pub fn store_code(&mut self, wasm: &[u8]) -> Result<[u8; 32], ValidationError> {
        let info = self.vm.store_code(wasm)?;
        self.state.codes.insert(info.checksum, wasm.to_vec());
        Ok(info.checksum)
    }

    /// Registers a contract of stored code without running `instantiate` (for running a
    /// single entry point offline, as `tao vm run` does).
    pub fn register(&mut self, checksum: [u8; 32]) -> [u8; 20] {
        self.next_id += 1;
        let digest = Sha256::digest([&checksum[..], &self.next_id.to_le_bytes()].concat());
        let mut addr = [0u8; 20];
        addr.copy_from_slice(&digest[..20]);
        self.state.contracts.insert(addr, checksum);
        addr
    }

    /// Runs any entry point of a registered contract.
    pub fn call(
        &mut self,
        contract: [u8; 20],
        entry: Entry,
        sender: [u8; 20],
        funds: u64,
        msg: &[u8],
    ) -> CallOutcome {
        let checksum = self
            .state
            .contracts
            .get(&contract)
            .copied()
            .unwrap_or_default();
        if funds > 0 {
            let from = self.state.balances.entry(sender).or_default();
            if *from < funds {
                return CallOutcome {
                    result: Err(taochain_vm::VmError::Contract(
                        "sender cannot pay funds".into(),
                    )),
                    gas_used: 0,
                    events: vec![],
                    debug: vec![],
                };
            }
            *from -= funds;
            *self.state.balances.entry(contract).or_default() += funds;
        }
        let env = Env {
            contract,
            ..self.env.clone()
        };
        let call = Call {
            env: env.clone(),
            info: MessageInfo { sender, funds },
            msg: msg.to_vec(),
        };
        let code = self.state.codes.get(&checksum).cloned();
        let mut host = SandboxHost {
            vm: &self.vm,
            state: &mut self.state,
            contract,
            env: &env,
        };
        self.vm.call(
            &checksum,
            &|| code.clone(),
            entry,
            &call,
            &mut host,
            self.gas_limit,
            0,
        )
    }

    /// Creates a contract from stored code and runs `instantiate`.
    pub fn instantiate(
        &mut self,
        checksum: [u8; 32],
        sender: [u8; 20],
        msg: &[u8],
        funds: u64,
    ) -> ([u8; 20], CallOutcome) {
        let addr = self.register(checksum);
        let out = self.call(addr, Entry::Instantiate, sender, funds, msg);
        (addr, out)
    }

    /// Runs `execute`.
    pub fn execute(
        &mut self,
        contract: [u8; 20],
        sender: [u8; 20],
        msg: &[u8],
        funds: u64,
    ) -> CallOutcome {
        self.call(contract, Entry::Execute, sender, funds, msg)
    }

    /// Runs `query`.
    pub fn query(&mut self, contract: [u8; 20], msg: &[u8]) -> CallOutcome {
        self.call(contract, Entry::Query, [0u8; 20], 0, msg)
    }

    /// Runs `migrate` on new code.
    pub fn migrate(
        &mut self,
        contract: [u8; 20],
        new_code: [u8; 32],
        sender: [u8; 20],
        msg: &[u8],
    ) -> CallOutcome {
        self.state.contracts.insert(contract, new_code);
        self.call(contract, Entry::Migrate, sender, 0, msg)
    }
}

impl Host for SandboxHost<'_> {
    fn keeps_debug(&self) -> bool {
        true
    }
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self
            .state
            .storage
            .get(&(self.contract, key.to_vec()))
            .cloned())
    }
    fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.state
            .storage
            .insert((self.contract, key.to_vec()), value.to_vec());
        Ok(())
    }
    fn storage_remove(&mut self, key: &[u8]) -> Result<(), HostError> {
        self.state.storage.remove(&(self.contract, key.to_vec()));
        Ok(())
    }
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        _max_skips: u64,
    ) -> Result<Next, HostError> {
        // A map without pending deletions: nothing to step over.
        let found = self
            .state
            .storage
            .range((self.contract, start.to_vec())..)
            .take_while(|((c, k), _)| *c == self.contract && end.is_none_or(|e| k.as_slice() < e))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .next();
        Ok(Next::Found(found, 0))
    }
    fn bank_send(&mut self, to: [u8; 20], amount: u64) -> Result<Result<(), i32>, HostError> {
        if amount == 0 {
            return Ok(Err(taochain_vm_abi::ERR_INVALID));
        }
        let own = self.state.balances.entry(self.contract).or_default();
        let Some(left) = own.checked_sub(amount) else {
            return Ok(Err(taochain_vm_abi::ERR_INSUFFICIENT_FUNDS));
        };
        *own = left;
        *self.state.balances.entry(to).or_default() += amount;
        Ok(Ok(()))
    }
    fn query_contract(
        &self,
        contract: [u8; 20],
        msg: &[u8],
        depth: u32,
        gas: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
        let Some(checksum) = self.state.contracts.get(&contract).copied() else {
            return Ok((0, Err("no such contract".into())));
        };
        let env = Env {
            contract,
            ..self.env.clone()
        };
        let call = Call {
            env: env.clone(),
            info: MessageInfo {
                sender: self.contract,
                funds: 0,
            },
            msg: msg.to_vec(),
        };
        let code = self.state.codes.get(&checksum).cloned();
        let mut state = SandboxState {
            codes: self.state.codes.clone(),
            contracts: self.state.contracts.clone(),
            storage: self.state.storage.clone(),
            balances: BTreeMap::new(),
        };
        let mut host = SandboxHost {
            vm: self.vm,
            state: &mut state,
            contract,
            env: &env,
        };
        let out = self.vm.call(
            &checksum,
            &|| code.clone(),
            Entry::Query,
            &call,
            &mut host,
            gas,
            depth,
        );
        match out.result {
            Ok(data) => Ok((out.gas_used, Ok(data))),
            Err(taochain_vm::VmError::Host(e)) => Err(HostError(e)),
            Err(e) => Ok((out.gas_used, Err(e.to_string()))),
        }
    }
}

/// The wasm of example contract `name` from the `contracts/` workspace: read from
/// `$TAOCHAIN_CONTRACTS_DIR` (set by the project's scripts), or built on first use.
#[allow(clippy::expect_used, clippy::panic)]
pub fn contract_wasm(name: &str) -> Vec<u8> {
    use std::path::PathBuf;
    let dir = match std::env::var_os("TAOCHAIN_CONTRACTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts");
            let target = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/taochain-contracts-target");
            let status = std::process::Command::new("cargo")
                .args([
                    "build",
                    "--release",
                    "--locked",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building contracts/ failed");
            target.join("wasm32-unknown-unknown/release")
        }
    };
    std::fs::read(dir.join(format!("{name}.wasm")))
        .expect("contract wasm is readable (see TAOCHAIN_CONTRACTS_DIR)")
}

/// A host over one in-memory map, for running a single contract with no chain around it
/// (benchmarks, artifact tests): no balances, no other contracts.
#[derive(Default)]
pub struct MapHost {
    /// The contract's storage.
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Host for MapHost {
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.storage.get(key).cloned())
    }
    fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.storage.insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn storage_remove(&mut self, key: &[u8]) -> Result<(), HostError> {
        self.storage.remove(key);
        Ok(())
    }
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        _max_skips: u64,
    ) -> Result<Next, HostError> {
        let found = self
            .storage
            .range(start.to_vec()..)
            .find(|_| true)
            .filter(|(k, _)| end.is_none_or(|e| k.as_slice() < e))
            .map(|(k, v)| (k.clone(), v.clone()));
        Ok(Next::Found(found, 0))
    }
    fn bank_send(&mut self, _: [u8; 20], _: u64) -> Result<Result<(), i32>, HostError> {
        Ok(Err(taochain_vm_abi::ERR_INSUFFICIENT_FUNDS))
    }
    fn query_contract(
        &self,
        _: [u8; 20],
        _: &[u8],
        _: u32,
        _: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
        Ok((0, Err("no other contracts here".into())))
    }
}
