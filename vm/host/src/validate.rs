//! Store-time validation: the module must be valid under exactly the accepted feature
//! profile (what stable Rust 1.95 emits for `wasm32-unknown-unknown`: bulk-memory,
//! multivalue, mutable-globals, nontrapping-fptoint, reference-types, sign-ext, plus MVP
//! floats), stay under the static caps of [`crate::limits`], import only the host's
//! functions with their exact signatures, and export `memory` and the required entries.

use sha2::{Digest, Sha256};
use wasmparser::{
    ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

use crate::ValidationError;
use crate::imports::SIGNATURES;
use crate::limits::*;

/// Facts about validated code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// sha256 of the module bytes.
    pub checksum: [u8; 32],
    /// Size in bytes.
    pub size: usize,
    /// Entry points the module exports, in ABI order.
    pub entries: Vec<&'static str>,
    /// Functions defined.
    pub functions: u32,
}

/// The accepted WebAssembly features, and nothing else.
pub fn profile() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::FLOATS
}

fn cap(what: &'static str, got: u64, limit: u64) -> Result<(), ValidationError> {
    if got > limit {
        Err(ValidationError::TooLarge { what, got, limit })
    } else {
        Ok(())
    }
}

fn invalid(e: impl std::fmt::Display) -> ValidationError {
    ValidationError::Invalid(e.to_string())
}

fn signature(params: &[ValType], results: &[ValType]) -> (Vec<ValType>, Vec<ValType>) {
    (params.to_vec(), results.to_vec())
}

/// Validates `wasm`; returns its facts or the first reason it is refused.
pub fn validate(wasm: &[u8]) -> Result<CodeInfo, ValidationError> {
    cap("code size", wasm.len() as u64, MAX_CODE_BYTES as u64)?;
    Validator::new_with_features(profile())
        .validate_all(wasm)
        .map_err(invalid)?;
    let mut types: Vec<FuncType> = vec![];
    let mut func_types: Vec<u32> = vec![]; // imported functions first, then defined ones
    let mut exports: Vec<(String, ExternalKind, u32)> = vec![];
    let (mut imports, mut functions, mut data_bytes, mut memories) = (0u32, 0u32, 0u64, 0u32);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(invalid)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    imports += 1;
                    cap("imports", u64::from(imports), u64::from(MAX_IMPORTS))?;
                    let unknown = || ValidationError::UnknownImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                    };
                    let TypeRef::Func(index) = import.ty else {
                        return Err(ValidationError::NotAllowed(format!(
                            "import {}::{} is not a function (memory, tables and globals are the module's own)",
                            import.module, import.name
                        )));
                    };
                    let &(_, params, results) = SIGNATURES
                        .iter()
                        .find(|(n, _, _)| {
                            import.module == taochain_vm_abi::IMPORT_MODULE && *n == import.name
                        })
                        .ok_or_else(unknown)?;
                    let ty = types.get(index as usize).ok_or_else(unknown)?;
                    if signature(ty.params(), ty.results()) != signature(params, results) {
                        return Err(unknown());
                    }
                    func_types.push(index);
                }
            }
            Payload::FunctionSection(reader) => {
                functions = reader.count();
                cap("functions", u64::from(functions), u64::from(MAX_FUNCTIONS))?;
                for ty in reader {
                    func_types.push(ty.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                cap("tables", u64::from(reader.count()), u64::from(MAX_TABLES))?;
                for table in reader {
                    let ty = table.map_err(invalid)?.ty;
                    cap(
                        "table elements",
                        ty.maximum.unwrap_or(ty.initial).max(ty.initial),
                        MAX_TABLE_ELEMENTS,
                    )?;
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(invalid)?;
                    memories += 1;
                    cap("initial memory pages", memory.initial, MAX_INITIAL_PAGES)?;
                }
            }
            Payload::GlobalSection(reader) => {
                cap("globals", u64::from(reader.count()), u64::from(MAX_GLOBALS))?;
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => {
                return Err(ValidationError::NotAllowed(
                    "a start function (code must run only in entry points)".into(),
                ));
            }
            Payload::DataSection(reader) => {
                cap(
                    "data segments",
                    u64::from(reader.count()),
                    u64::from(MAX_DATA_SEGMENTS),
                )?;
                for data in reader {
                    data_bytes += data.map_err(invalid)?.data.len() as u64;
                    cap("data bytes", data_bytes, MAX_DATA_BYTES)?;
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals: u64 = 0;
                for local in body.get_locals_reader().map_err(invalid)? {
                    locals += u64::from(local.map_err(invalid)?.0);
                }
                cap("locals in one function", locals, u64::from(MAX_LOCALS))?;
            }
            _ => {}
        }
    }
    if memories != 1 {
        return Err(ValidationError::NotAllowed(format!(
            "{memories} memories (exactly one is required)"
        )));
    }
    if !exports
        .iter()
        .any(|(n, k, _)| n == "memory" && *k == ExternalKind::Memory)
    {
        return Err(ValidationError::MissingExport("memory".into()));
    }
    let entry_ok = |name: &str| {
        exports.iter().any(|(n, k, index)| {
            n == name
                && *k == ExternalKind::Func
                && func_types
                    .get(*index as usize)
                    .and_then(|t| types.get(*t as usize))
                    .is_some_and(|t| t.params().is_empty() && t.results() == [ValType::I32])
        })
    };
    for name in taochain_vm_abi::REQUIRED_ENTRIES {
        if !entry_ok(name) {
            return Err(ValidationError::MissingExport(name.into()));
        }
    }
    let entries = taochain_vm_abi::ENTRIES
        .iter()
        .copied()
        .filter(|n| entry_ok(n))
        .collect();
    Ok(CodeInfo {
        checksum: Sha256::digest(wasm).into(),
        size: wasm.len(),
        entries,
        functions,
    })
}
