//! Store-time validation: the module must be valid under exactly the accepted feature
//! profile (what stable Rust 1.95 emits for `wasm32-unknown-unknown`: bulk-memory,
//! multivalue, mutable-globals, nontrapping-fptoint, reference-types, sign-ext, plus MVP
//! floats), stay under the static caps of [`crate::limits`], import only the host's
//! functions with their exact signatures, and export `memory` and the required entries.

use sha2::{Digest, Sha256};
use wasmparser::{
    DataSectionReader, ExportSectionReader, ExternalKind, FuncType, FunctionBody,
    FunctionSectionReader, Import, ImportSectionReader, MemorySectionReader, Parser, Payload,
    TableSectionReader, TypeRef, TypeSectionReader, ValType, WasmFeatures,
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
    crate::instrument::check_bodies(wasm)?;
    let scan = Scan::of(wasm)?;
    scan.check_memories()?;
    let entries = scan.entries()?;
    Ok(CodeInfo {
        checksum: Sha256::digest(wasm).into(),
        size: wasm.len(),
        entries,
        functions: scan.functions,
    })
}

/// What one pass over the module's sections collects (after the per-section caps held).
#[derive(Default)]
struct Scan {
    types: Vec<FuncType>,
    /// Imported functions first, then defined ones.
    func_types: Vec<u32>,
    exports: Vec<(String, ExternalKind, u32)>,
    imports: u32,
    functions: u32,
    data_bytes: u64,
    memories: u32,
}

impl Scan {
    /// Walks every section of `wasm` in order, stopping at the first refusal.
    fn of(wasm: &[u8]) -> Result<Self, ValidationError> {
        let mut scan = Self::default();
        for payload in Parser::new(0).parse_all(wasm) {
            scan.payload(payload.map_err(invalid)?)?;
        }
        Ok(scan)
    }

    /// Checks one section (or code entry) and records what the final checks need.
    fn payload(&mut self, payload: Payload<'_>) -> Result<(), ValidationError> {
        match payload {
            Payload::TypeSection(reader) => self.read_types(reader),
            Payload::ImportSection(reader) => self.read_imports(reader),
            Payload::FunctionSection(reader) => self.read_functions(reader),
            Payload::TableSection(reader) => check_tables(reader),
            Payload::MemorySection(reader) => self.read_memories(reader),
            Payload::GlobalSection(reader) => {
                cap("globals", u64::from(reader.count()), u64::from(MAX_GLOBALS))
            }
            Payload::ExportSection(reader) => self.read_exports(reader),
            Payload::StartSection { .. } => Err(ValidationError::NotAllowed(
                "a start function (code must run only in entry points)".into(),
            )),
            Payload::DataSection(reader) => self.read_data(reader),
            Payload::CodeSectionEntry(body) => check_locals(&body),
            _ => Ok(()),
        }
    }

    /// Records the function types.
    fn read_types(&mut self, reader: TypeSectionReader<'_>) -> Result<(), ValidationError> {
        for ty in reader.into_iter_err_on_gc_types() {
            self.types.push(ty.map_err(invalid)?);
        }
        Ok(())
    }

    /// Caps the import count and checks each import against the host's signatures.
    fn read_imports(&mut self, reader: ImportSectionReader<'_>) -> Result<(), ValidationError> {
        for import in reader.into_imports() {
            let import = import.map_err(invalid)?;
            self.imports += 1;
            cap("imports", u64::from(self.imports), u64::from(MAX_IMPORTS))?;
            let index = host_import(&self.types, &import)?;
            self.func_types.push(index);
        }
        Ok(())
    }

    /// Caps the defined-function count and records their types.
    fn read_functions(&mut self, reader: FunctionSectionReader<'_>) -> Result<(), ValidationError> {
        self.functions = reader.count();
        cap(
            "functions",
            u64::from(self.functions),
            u64::from(MAX_FUNCTIONS),
        )?;
        for ty in reader {
            self.func_types.push(ty.map_err(invalid)?);
        }
        Ok(())
    }

    /// Counts the memories and caps each one's initial size.
    fn read_memories(&mut self, reader: MemorySectionReader<'_>) -> Result<(), ValidationError> {
        for memory in reader {
            let memory = memory.map_err(invalid)?;
            self.memories += 1;
            cap("initial memory pages", memory.initial, MAX_INITIAL_PAGES)?;
        }
        Ok(())
    }

    /// Records the exports.
    fn read_exports(&mut self, reader: ExportSectionReader<'_>) -> Result<(), ValidationError> {
        for export in reader {
            let export = export.map_err(invalid)?;
            self.exports
                .push((export.name.to_string(), export.kind, export.index));
        }
        Ok(())
    }

    /// Caps the data segment count and the running total of data bytes.
    fn read_data(&mut self, reader: DataSectionReader<'_>) -> Result<(), ValidationError> {
        cap(
            "data segments",
            u64::from(reader.count()),
            u64::from(MAX_DATA_SEGMENTS),
        )?;
        for data in reader {
            self.data_bytes += data.map_err(invalid)?.data.len() as u64;
            cap("data bytes", self.data_bytes, MAX_DATA_BYTES)?;
        }
        Ok(())
    }

    /// Requires exactly one memory.
    fn check_memories(&self) -> Result<(), ValidationError> {
        if self.memories != 1 {
            return Err(ValidationError::NotAllowed(format!(
                "{} memories (exactly one is required)",
                self.memories
            )));
        }
        Ok(())
    }

    /// Requires the `memory` export and the required entries; returns the entries present.
    fn entries(&self) -> Result<Vec<&'static str>, ValidationError> {
        if !self
            .exports
            .iter()
            .any(|(n, k, _)| n == "memory" && *k == ExternalKind::Memory)
        {
            return Err(ValidationError::MissingExport("memory".into()));
        }
        for name in taochain_vm_abi::REQUIRED_ENTRIES {
            if !self.entry_ok(name) {
                return Err(ValidationError::MissingExport(name.into()));
            }
        }
        Ok(taochain_vm_abi::ENTRIES
            .iter()
            .copied()
            .filter(|n| self.entry_ok(n))
            .collect())
    }

    /// Whether `name` is an exported function of type `() -> i32`.
    fn entry_ok(&self, name: &str) -> bool {
        self.exports.iter().any(|(n, k, index)| {
            n == name
                && *k == ExternalKind::Func
                && self
                    .func_types
                    .get(*index as usize)
                    .and_then(|t| self.types.get(*t as usize))
                    .is_some_and(|t| t.params().is_empty() && t.results() == [ValType::I32])
        })
    }
}

/// Checks one import is a host function with its exact signature; returns its type index.
fn host_import(types: &[FuncType], import: &Import<'_>) -> Result<u32, ValidationError> {
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
        .find(|(n, _, _)| import.module == taochain_vm_abi::IMPORT_MODULE && *n == import.name)
        .ok_or_else(unknown)?;
    let ty = types.get(index as usize).ok_or_else(unknown)?;
    if signature(ty.params(), ty.results()) != signature(params, results) {
        return Err(unknown());
    }
    Ok(index)
}

/// Caps the table count and each table's element count.
fn check_tables(reader: TableSectionReader<'_>) -> Result<(), ValidationError> {
    cap("tables", u64::from(reader.count()), u64::from(MAX_TABLES))?;
    for table in reader {
        let ty = table.map_err(invalid)?.ty;
        cap(
            "table elements",
            ty.maximum.unwrap_or(ty.initial).max(ty.initial),
            MAX_TABLE_ELEMENTS,
        )?;
    }
    Ok(())
}

/// Caps the locals declared by one function body.
fn check_locals(body: &FunctionBody<'_>) -> Result<(), ValidationError> {
    let mut locals: u64 = 0;
    for local in body.get_locals_reader().map_err(invalid)? {
        locals += u64::from(local.map_err(invalid)?.0);
    }
    cap("locals in one function", locals, u64::from(MAX_LOCALS))
}
