//! Store-time instrumentation of every module: deterministic call-depth metering, and
//! every `memory.grow` turned into a call to the host's [`GROW_IMPORT`], which charges the
//! pages it maps. (Bulk memory and table operations need none: the engine charges them per
//! byte and per element in fuel, inline; see [`crate::engine`].)
//!
//! wasmtime's `max_wasm_stack` depends on native frame sizes, which differ between compiler
//! builds, so a deep recursion could trap at different depths on different nodes. Instead,
//! calls are wrapped so that a module-level counter grows by what the call may hold on
//! the stack before the call (trapping with `unreachable` past [`MAX_STACK_COST`]) and
//! shrinks after it. The frame cost of a function is `2 + locals (params included) + its
//! maximum operand-stack height`, computed with the validator. A call into a call tree
//! that is acyclic, has no indirect calls and holds at most [`MAX_FREE_COST`] is not
//! wrapped: the wrapped call above it charged its whole tree (`calls` says which calls are
//! wrapped and what each charges). The counter is a fresh global in every instance (each
//! call instantiates anew), so it starts at 0.
//!
//! [`crate::limits::MAX_WASM_STACK`] is sized so the metered limit is always reached first:
//! a cost unit is one wasm value (<= 16 bytes in a Cranelift frame, with no SIMD), every
//! frame costs at least 2, the uncounted part (the entry's frame and its free calls) is at
//! most the entry's frame (at most 2 + 4096 locals + [`MAX_OPERAND_HEIGHT`]) plus
//! [`MAX_FREE_COST`], and the native limit leaves a wide margin above that.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};
use wasm_encoder::{ConstExpr, GlobalType, Instruction, ValType as EncValType};
use wasmparser::{Parser, Payload, ValidPayload, Validator};

use crate::ValidationError;
use crate::validate::profile;

mod calls;
pub use calls::MAX_FREE_COST;
use calls::{CallGraph, CallPlan};

/// The most frame cost (wasm values) live on the call stack at once.
pub const MAX_STACK_COST: u32 = 8_192;
/// The most values one function may hold on its operand stack (checked at store time):
/// with [`crate::limits::MAX_LOCALS`] it bounds the frame of an entry point, which no
/// call charges.
pub const MAX_OPERAND_HEIGHT: u32 = 1_024;
/// Bumped whenever the rewrite changes: part of the artifact cache key, so a node never
/// runs code instrumented by an older rewrite.
pub const INSTRUMENT_VERSION: u64 = 3;

/// What the rewrite needs to know about the original module.
#[derive(Default)]
struct Facts {
    /// Frame costs (imports, host functions, cost 1, first) and who calls whom.
    graph: CallGraph,
    /// Defined globals.
    globals: u32,
    /// Types in the type section (the grow import's type goes after them).
    types: u32,
}

/// Validates every function body (the full wasm validation) and checks each one's operand
/// stack against [`MAX_OPERAND_HEIGHT`]: `validate` runs this at store time.
pub(crate) fn check_bodies(wasm: &[u8]) -> Result<(), ValidationError> {
    analyse(wasm).map(drop)
}

fn analyse(wasm: &[u8]) -> Result<Facts, ValidationError> {
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid(e.to_string());
    let mut validator = Validator::new_with_features(profile());
    let mut facts = Facts::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::ImportSection(reader) => {
                for _ in reader.clone().into_imports() {
                    facts.graph.imports += 1;
                    facts.graph.frames.push(1);
                }
            }
            Payload::GlobalSection(reader) => facts.globals = reader.count(),
            Payload::TypeSection(reader) => facts.types = reader.count(),
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
            // The body's last `end` and its result types (what `validate_all` checks last).
            reader
                .finish_expression(&v.visitor(reader.original_position()))
                .map_err(invalid)?;
            if max_height > MAX_OPERAND_HEIGHT {
                return Err(ValidationError::TooLarge {
                    what: "operand stack height of one function",
                    got: u64::from(max_height),
                    limit: u64::from(MAX_OPERAND_HEIGHT),
                });
            }
            facts.graph.frames.push(
                2u32.saturating_add(v.len_locals())
                    .saturating_add(max_height),
            );
            let (mut callees, mut indirect) = (vec![], false);
            let mut ops = body.get_operators_reader().map_err(invalid)?;
            while !ops.eof() {
                match ops.read().map_err(invalid)? {
                    wasmparser::Operator::Call { function_index } => callees.push(function_index),
                    wasmparser::Operator::CallIndirect { .. } => indirect = true,
                    _ => {}
                }
            }
            callees.sort_unstable();
            callees.dedup();
            facts.graph.callees.push(callees);
            facts.graph.indirect.push(indirect);
        }
    }
    Ok(facts)
}

/// Name of the private import every `memory.grow` becomes: it charges
/// [`crate::limits::gas::MEMORY_PER_PAGE`] per page, then grows (not part of the ABI: a
/// module that imports it is refused at store time like any unknown import).
pub const GROW_IMPORT: &str = "__memory_grow";

struct Meter {
    facts: Facts,
    /// Which calls are wrapped, and their charges.
    plan: CallPlan,
    saw_globals: bool,
    saw_imports: bool,
}

impl Meter {
    fn depth_global(&self) -> u32 {
        self.facts.globals
    }

    /// The grow import's function index (after the original imports).
    fn grow_fn(&self) -> u32 {
        self.facts.graph.imports
    }

    fn grow_import(&self, imports: &mut wasm_encoder::ImportSection) {
        imports.import(
            taochain_vm_abi::IMPORT_MODULE,
            GROW_IMPORT,
            wasm_encoder::EntityType::Function(self.facts.types),
        );
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
        // The grow import goes after the original imports: defined functions shift by one.
        Ok(if func >= self.facts.graph.imports {
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
        types.ty().function([EncValType::I32], [EncValType::I32]);
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_import_section(self, imports, section)?;
        self.grow_import(imports);
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
            self.grow_import(&mut imports);
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
        let mut locals = vec![];
        for pair in func.get_locals_reader()? {
            let (count, ty) = pair?;
            locals.push((count, self.val_type(ty)?));
        }
        let mut f = wasm_encoder::Function::new(locals);
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let cost = match &op {
                wasmparser::Operator::Call { function_index } => self
                    .plan
                    .charge
                    .get(*function_index as usize)
                    .copied()
                    .unwrap_or(Some(self.plan.indirect)),
                wasmparser::Operator::CallIndirect { .. } => Some(self.plan.indirect),
                _ => None,
            };
            if let Some(cost) = cost {
                self.enter(&mut f, cost);
            }
            if let wasmparser::Operator::MemoryGrow { .. } = op {
                // [.. pages] -> [.. old size or -1], paid per page by the host.
                f.instruction(&Instruction::Call(self.grow_fn()));
                continue;
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

/// Returns `wasm` with call-depth metering added (the module must already be valid).
pub fn instrument(wasm: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let facts = analyse(wasm)?;
    let plan = facts.graph.plan();
    let mut meter = Meter {
        facts,
        plan,
        saw_globals: false,
        saw_imports: false,
    };
    let mut module = wasm_encoder::Module::new();
    meter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| ValidationError::Invalid(format!("instrumentation: {e:?}")))?;
    Ok(module.finish())
}
