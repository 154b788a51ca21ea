//! Store-time instrumentation of every module: deterministic call-depth metering and
//! per-byte gas for bulk memory and table operations.
//!
//! **Bulk operations.** wasmtime charges one unit of fuel for a `memory.fill` of 16 MiB, so
//! before every `memory.fill/copy/init` and `table.fill/copy/init` the length operand is
//! passed to a private host import (`tao.__bulk_gas`, added here, never importable by a
//! module itself) that charges [`crate::limits::gas::BULK_PER_8_BYTES`] per 8 bytes.
//!
//! **Call depth.**
//! wasmtime's `max_wasm_stack` depends on native frame sizes, which differ between compiler
//! builds, so a deep recursion could trap at different depths on different nodes. Instead,
//! every `call` and `call_indirect` is wrapped so that a module-level counter grows by the
//! callee's *frame cost* before the call (trapping with `unreachable` past
//! [`MAX_STACK_COST`]) and shrinks after it. The frame cost of a function is
//! `2 + locals (params included) + its maximum operand-stack height`, computed with the
//! validator; an indirect call is charged the largest cost of any function. The counter is
//! a fresh global in every instance (each call instantiates anew), so it starts at 0.
//!
//! [`crate::limits::MAX_WASM_STACK`] is sized so the metered limit is always reached first:
//! a cost unit is one wasm value (<= 16 bytes in a Cranelift frame, with no SIMD), every
//! frame costs at least 2, and the native limit leaves a wide margin above that.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};
use wasm_encoder::{ConstExpr, GlobalType, Instruction, ValType as EncValType};
use wasmparser::{Parser, Payload, ValidPayload, Validator};

use crate::ValidationError;
use crate::validate::profile;

/// The most frame cost (wasm values) live on the call stack at once.
pub const MAX_STACK_COST: u32 = 8_192;
/// Bumped whenever the rewrite changes: part of the artifact cache key, so a node never
/// runs code instrumented by an older rewrite.
pub const INSTRUMENT_VERSION: u64 = 1;

/// What the rewrite needs to know about the original module.
#[derive(Default)]
struct Facts {
    /// Frame cost of every function, imports (host functions, cost 1) first.
    costs: Vec<u32>,
    /// Imported functions (all imports are functions).
    imports: u32,
    /// Types in the type section.
    types: u32,
    /// Defined globals.
    globals: u32,
    /// Parameter count of every defined function.
    params: Vec<u32>,
}

fn analyse(wasm: &[u8]) -> Result<Facts, ValidationError> {
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid(e.to_string());
    let mut validator = Validator::new_with_features(profile());
    let mut facts = Facts::default();
    let mut type_params: Vec<u32> = vec![];
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::TypeSection(reader) => {
                for ty in reader.clone().into_iter_err_on_gc_types() {
                    type_params.push(ty.map_err(invalid)?.params().len() as u32);
                }
                facts.types = type_params.len() as u32;
            }
            Payload::ImportSection(reader) => {
                for _ in reader.clone().into_imports() {
                    facts.imports += 1;
                    facts.costs.push(1);
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    facts.params.push(
                        type_params
                            .get(ty.map_err(invalid)? as usize)
                            .copied()
                            .unwrap_or(0),
                    );
                }
            }
            Payload::GlobalSection(reader) => facts.globals = reader.count(),
            _ => {}
        }
        if let ValidPayload::Func(to_validate, body) =
            validator.payload(&payload).map_err(invalid)?
        {
            let mut v = to_validate.into_validator(Default::default());
            let mut reader = body.get_binary_reader();
            v.read_locals(&mut reader).map_err(invalid)?;
            let mut max_height = 0u32;
            while !reader.eof() {
                let pos = reader.original_position();
                reader
                    .visit_operator(&mut v.visitor(pos))
                    .map_err(invalid)?
                    .map_err(invalid)?;
                max_height = max_height.max(v.operand_stack_height());
            }
            facts.costs.push(
                2u32.saturating_add(v.len_locals())
                    .saturating_add(max_height),
            );
        }
    }
    Ok(facts)
}

/// Name of the private import that charges bulk operations.
pub const BULK_GAS_IMPORT: &str = "__bulk_gas";

struct Meter {
    facts: Facts,
    max_cost: u32,
    saw_globals: bool,
    saw_imports: bool,
    /// Index of the defined function being rewritten.
    current: usize,
}

impl Meter {
    fn depth_global(&self) -> u32 {
        self.facts.globals
    }

    /// The new import's function index (after the original imports).
    fn bulk_fn(&self) -> u32 {
        self.facts.imports
    }

    fn enter(&self, f: &mut wasm_encoder::Function, cost: u32) {
        let (g, c) = (self.depth_global(), cost as i32);
        f.instruction(&Instruction::GlobalGet(g));
        f.instruction(&Instruction::I32Const(c));
        f.instruction(&Instruction::I32Add);
        f.instruction(&Instruction::GlobalSet(g));
        f.instruction(&Instruction::GlobalGet(g));
        f.instruction(&Instruction::I32Const(MAX_STACK_COST as i32));
        f.instruction(&Instruction::I32GtU);
        f.instruction(&Instruction::If(wasm_encoder::BlockType::Empty));
        f.instruction(&Instruction::Unreachable);
        f.instruction(&Instruction::End);
    }

    fn leave(&self, f: &mut wasm_encoder::Function, cost: u32) {
        let g = self.depth_global();
        f.instruction(&Instruction::GlobalGet(g));
        f.instruction(&Instruction::I32Const(cost as i32));
        f.instruction(&Instruction::I32Sub);
        f.instruction(&Instruction::GlobalSet(g));
    }

    fn new_global(&self) -> (GlobalType, ConstExpr) {
        (
            GlobalType {
                val_type: EncValType::I32,
                mutable: true,
                shared: false,
            },
            ConstExpr::i32_const(0),
        )
    }
}

impl Reencode for Meter {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<Self::Error>> {
        // The bulk-gas import goes after the original imports: defined functions shift by one.
        Ok(if func >= self.facts.imports {
            func + 1
        } else {
            func
        })
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_type_section(self, types, section)?;
        types.ty().function([EncValType::I32], []);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_import_section(self, imports, section)?;
        imports.import(
            taochain_vm_abi::IMPORT_MODULE,
            BULK_GAS_IMPORT,
            wasm_encoder::EntityType::Function(self.facts.types),
        );
        self.saw_imports = true;
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_global_section(self, globals, section)?;
        let (ty, init) = self.new_global();
        globals.global(ty, &init);
        self.saw_globals = true;
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<wasm_encoder::SectionId>,
        before: Option<wasm_encoder::SectionId>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        let past = |id: wasm_encoder::SectionId| before.is_none_or(|b| b as u8 > id as u8);
        if past(wasm_encoder::SectionId::Import) && !self.saw_imports {
            let mut imports = wasm_encoder::ImportSection::new();
            imports.import(
                taochain_vm_abi::IMPORT_MODULE,
                BULK_GAS_IMPORT,
                wasm_encoder::EntityType::Function(self.facts.types),
            );
            module.section(&imports);
            self.saw_imports = true;
        }
        let past_globals = past(wasm_encoder::SectionId::Global);
        if past_globals && !self.saw_globals {
            let mut globals = wasm_encoder::GlobalSection::new();
            let (ty, init) = self.new_global();
            globals.global(ty, &init);
            module.section(&globals);
            self.saw_globals = true;
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        // One extra i32 local (after all others) holds a bulk operation's length.
        let mut locals = vec![];
        let mut declared = 0u32;
        for pair in func.get_locals_reader()? {
            let (count, ty) = pair?;
            declared = declared.saturating_add(count);
            locals.push((count, self.val_type(ty)?));
        }
        locals.push((1, EncValType::I32));
        let params = self.facts.params.get(self.current).copied().unwrap_or(0);
        let scratch = params.saturating_add(declared);
        self.current += 1;
        let mut f = wasm_encoder::Function::new(locals);
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let cost = match &op {
                wasmparser::Operator::Call { function_index } => Some(
                    self.facts
                        .costs
                        .get(*function_index as usize)
                        .copied()
                        .unwrap_or(self.max_cost),
                ),
                wasmparser::Operator::CallIndirect { .. } => Some(self.max_cost),
                _ => None,
            };
            if let Some(cost) = cost {
                self.enter(&mut f, cost);
            }
            if is_bulk(&op) {
                // [.. len] -> charge(len) -> [.. len]
                f.instruction(&Instruction::LocalSet(scratch));
                f.instruction(&Instruction::LocalGet(scratch));
                f.instruction(&Instruction::Call(self.bulk_fn()));
                f.instruction(&Instruction::LocalGet(scratch));
            }
            f.instruction(&self.instruction(op)?);
            if let Some(cost) = cost {
                self.leave(&mut f, cost);
            }
        }
        code.function(&f);
        Ok(())
    }
}

/// Bulk operations whose last operand is a length.
fn is_bulk(op: &wasmparser::Operator<'_>) -> bool {
    use wasmparser::Operator::*;
    matches!(
        op,
        MemoryFill { .. }
            | MemoryCopy { .. }
            | MemoryInit { .. }
            | TableFill { .. }
            | TableCopy { .. }
            | TableInit { .. }
    )
}

/// Returns `wasm` with call-depth metering and bulk-operation gas added (the module must
/// already be valid).
pub fn instrument(wasm: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let facts = analyse(wasm)?;
    let max_cost = facts.costs.iter().copied().max().unwrap_or(1);
    let mut meter = Meter {
        facts,
        max_cost,
        saw_globals: false,
        saw_imports: false,
        current: 0,
    };
    let mut module = wasm_encoder::Module::new();
    meter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| ValidationError::Invalid(format!("instrumentation: {e:?}")))?;
    Ok(module.finish())
}
