//! Entry points: the [`entry_points!`](crate::entry_points) macro, the handler context
//! [`Ctx`], and [`respond`] for borsh responses.

use borsh::{BorshDeserialize, BorshSerialize};
use taochain_vm_abi::{Call, Env, Event, MessageInfo};

use crate::{Api, ContractError};

/// What a handler gets: the environment, the caller, and the host.
pub struct Ctx<'a> {
    /// Block env and this contract's address.
    pub env: Env,
    /// Sender and funds.
    pub info: MessageInfo,
    /// The host.
    pub api: &'a mut dyn Api,
}

impl Ctx<'_> {
    /// Emits an event with attributes.
    pub fn event(&mut self, kind: &str, attributes: &[(&str, String)]) {
        let event = Event {
            kind: kind.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
        };
        self.api.emit_event(&event);
    }
}

/// Encodes a response value as borsh.
pub fn respond<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, ContractError> {
    borsh::to_vec(value).map_err(|e| ContractError::Custom(e.to_string()))
}

/// Decodes the input, runs `handler`, and returns the status and output bytes. Used by the
/// macro in wasm and by [`crate::testing`] natively.
pub fn dispatch<M: BorshDeserialize>(
    input: &[u8],
    api: &mut dyn Api,
    handler: fn(&mut Ctx<'_>, M) -> Result<Vec<u8>, ContractError>,
) -> (i32, Vec<u8>) {
    let call = match borsh::from_slice::<Call>(input) {
        Ok(c) => c,
        Err(e) => {
            return (
                taochain_vm_abi::STATUS_ERROR,
                format!("bad input: {e}").into_bytes(),
            );
        }
    };
    let msg = match borsh::from_slice::<M>(&call.msg) {
        Ok(m) => m,
        Err(e) => {
            return (
                taochain_vm_abi::STATUS_ERROR,
                ContractError::BadMessage(e.to_string())
                    .to_string()
                    .into_bytes(),
            );
        }
    };
    let mut ctx = Ctx {
        env: call.env,
        info: call.info,
        api,
    };
    match handler(&mut ctx, msg) {
        Ok(out) => (taochain_vm_abi::STATUS_OK, out),
        Err(e) => (taochain_vm_abi::STATUS_ERROR, e.to_string().into_bytes()),
    }
}

/// Runs a handler inside the VM: reads the input, dispatches, writes the result.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
pub fn run_wasm<M: BorshDeserialize>(
    handler: fn(&mut Ctx<'_>, M) -> Result<Vec<u8>, ContractError>,
) -> i32 {
    use crate::api::WasmApi;
    // SAFETY: the buffer is exactly `input_len` bytes long; `set_result` reads `out`.
    let len = unsafe { crate::api::wasm_io::input_len() }.max(0) as usize;
    let mut input = vec![0u8; len];
    unsafe { crate::api::wasm_io::input_read(input.as_mut_ptr()) };
    let (status, out) = dispatch(&input, &mut WasmApi, handler);
    unsafe { crate::api::wasm_io::set_result(out.as_ptr(), out.len() as i32) };
    status
}

/// Exports the entry points, each routed to a handler
/// `fn(&mut Ctx, Msg) -> Result<Vec<u8>, ContractError>`:
///
/// ```text
/// entry_points!(instantiate: init, execute: exec, query: query, migrate: migrate);
/// ```
#[macro_export]
macro_rules! entry_points {
    ($($entry:ident : $handler:ident),+ $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        mod __taochain_exports {
            $(
                #[unsafe(no_mangle)]
                pub extern "C" fn $entry() -> i32 {
                    $crate::entry::run_wasm(super::$handler)
                }
            )+
        }
    };
}
