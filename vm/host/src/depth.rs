//! Deterministic call-depth metering, added to every module at store time.
//!
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

/// Frame cost of every function, imports (host functions, cost 1) first.
fn frame_costs(wasm: &[u8]) -> Result<Vec<u32>, ValidationError> {
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid(e.to_string());
    let mut validator = Validator::new_with_features(profile());
    let mut costs = vec![];
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        if let Payload::ImportSection(reader) = &payload {
            costs.extend(reader.clone().into_imports().map(|_| 1u32));
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
            costs.push(
                2u32.saturating_add(v.len_locals())
                    .saturating_add(max_height),
            );
        }
    }
    Ok(costs)
}

struct Meter {
    costs: Vec<u32>,
    max_cost: u32,
    depth_global: u32,
    saw_globals: bool,
}

impl Meter {
    fn enter(&self, f: &mut wasm_encoder::Function, cost: u32) {
        let (g, c) = (self.depth_global, cost as i32);
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
        let g = self.depth_global;
        f.instruction(&Instruction::GlobalGet(g));
        f.instruction(&Instruction::I32Const(cost as i32));
        f.instruction(&Instruction::I32Sub);
        f.instruction(&Instruction::GlobalSet(g));
    }

    fn depth_global(&self) -> (GlobalType, ConstExpr) {
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

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_global_section(self, globals, section)?;
        let (ty, init) = self.depth_global();
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
        let past_globals = before.is_none_or(|b| b as u8 > wasm_encoder::SectionId::Global as u8);
        if past_globals && !self.saw_globals {
            let mut globals = wasm_encoder::GlobalSection::new();
            let (ty, init) = self.depth_global();
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
        let mut f = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let cost = match &op {
                wasmparser::Operator::Call { function_index } => Some(
                    self.costs
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
    let costs = frame_costs(wasm)?;
    let mut globals = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Ok(Payload::GlobalSection(reader)) = payload {
            globals = reader.count();
        }
    }
    let max_cost = costs.iter().copied().max().unwrap_or(1);
    let mut meter = Meter {
        costs,
        max_cost,
        depth_global: globals,
        saw_globals: false,
    };
    let mut module = wasm_encoder::Module::new();
    meter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| ValidationError::Invalid(format!("instrumentation: {e:?}")))?;
    Ok(module.finish())
}
