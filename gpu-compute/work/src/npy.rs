//! `.npy` files (NumPy's format, versions 1.0-3.0): int8 (`|i1`) and little-endian int32
//! (`<i4`), C order, 2-D. Strict: anything else is a clear [`WorkError::Npy`].

use crate::{Matrix, WorkError};

const MAGIC: &[u8] = b"\x93NUMPY";

fn err(msg: impl Into<String>) -> WorkError {
    WorkError::Npy(msg.into())
}

/// An element type `.npy` can hold for us.
pub trait Element: Copy + Sized {
    /// The `descr` string.
    const DESCR: &'static str;
    /// Bytes per element.
    const SIZE: usize;
    /// Decodes one little-endian element.
    fn from_le(b: &[u8]) -> Self;
    /// Encodes one element little-endian.
    fn to_le(self, out: &mut Vec<u8>);
}

impl Element for i8 {
    const DESCR: &'static str = "|i1";
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0] as i8
    }
    fn to_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

impl Element for i32 {
    const DESCR: &'static str = "<i4";
    const SIZE: usize = 4;
    fn from_le(b: &[u8]) -> Self {
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn to_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// The value of `'key': value` in the header dict (up to the next `,` at depth 0 or `}`).
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

/// What a `.npy` header says: the shape and where the data starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Offset of the first data byte.
    pub data_offset: usize,
}

/// Parses the header of a 2-D `.npy` of element type `T` from the file's first bytes
/// (the data may be absent): magic, version, dtype, order, and a shape whose dimensions are
/// both in `1..=max_dim`. Returns the header and the data length it declares (checked
/// arithmetic: a declared shape can be anything).
fn declared<T: Element>(bytes: &[u8], max_dim: usize) -> Result<(Header, usize), WorkError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err("not an .npy file (bad magic)"));
    }
    let (header_len, offset) = match bytes[6] {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(err(format!("unsupported .npy version {v}"))),
    };
    let end = offset
        .checked_add(header_len)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| err("truncated header"))?;
    let header = std::str::from_utf8(&bytes[offset..end]).map_err(|_| err("header is not text"))?;
    let descr = field(header, "descr")
        .ok_or_else(|| err("header has no descr"))?
        .trim_matches('\'');
    if descr != T::DESCR {
        return Err(err(format!(
            "dtype {descr} where {} was expected",
            T::DESCR
        )));
    }
    if field(header, "fortran_order") != Some("False") {
        return Err(err(
            "only C-order arrays are supported (fortran_order must be False)",
        ));
    }
    let shape = field(header, "shape").ok_or_else(|| err("header has no shape"))?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| err(format!("bad shape {shape}")))
        })
        .collect::<Result<_, _>>()?;
    let [rows, cols] = dims[..] else {
        return Err(err(format!("shape {shape} is not 2-D")));
    };
    for (what, d) in [("rows", rows), ("columns", cols)] {
        if d == 0 || d > max_dim {
            return Err(err(format!(
                "{d} {what}: each dimension must be 1 to {max_dim}"
            )));
        }
    }
    let data_len = rows
        .checked_mul(cols)
        .and_then(|c| c.checked_mul(T::SIZE))
        .ok_or_else(|| err(format!("shape {rows}x{cols} overflows")))?;
    let h = Header {
        rows,
        cols,
        data_offset: end,
    };
    Ok((h, data_len))
}

/// Parses and checks the header of a whole 2-D `.npy` of element type `T` without
/// decoding the data: both dimensions in `1..=max_dim` and the data exactly
/// `rows * cols * size` bytes.
pub fn header<T: Element>(bytes: &[u8], max_dim: usize) -> Result<Header, WorkError> {
    let (h, needed) = declared::<T>(bytes, max_dim)?;
    let body = bytes.len() - h.data_offset;
    if body != needed {
        return Err(err(format!(
            "data is {body} bytes, shape {}x{} needs {needed}",
            h.rows, h.cols
        )));
    }
    Ok(h)
}

/// Parses a 2-D `.npy` of element type `T` (dimensions up to [`crate::MAX_DIM`]).
pub fn parse<T: Element>(bytes: &[u8]) -> Result<Matrix<T>, WorkError> {
    let h = header::<T>(bytes, crate::MAX_DIM)?;
    let data = bytes[h.data_offset..]
        .chunks_exact(T::SIZE)
        .map(T::from_le)
        .collect();
    Ok(Matrix {
        rows: h.rows,
        cols: h.cols,
        data,
    })
}

/// Reads only the header of a `.npy` file (its first 64 KiB + 12 bytes at most) and checks
/// it against `max_dim` and the file's size, so a tool can refuse a statement beyond its
/// limits before reading or allocating the data.
pub fn read_header<T: Element>(
    path: &std::path::Path,
    max_dim: usize,
) -> Result<Header, WorkError> {
    use std::io::Read;
    let fail = |e: String| err(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let size = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    let mut head = Vec::new();
    file.by_ref()
        .take(12 + u64::from(u16::MAX))
        .read_to_end(&mut head)
        .map_err(|e| fail(e.to_string()))?;
    let (h, needed) = declared::<T>(&head, max_dim).map_err(|e| fail(e.to_string()))?;
    let body = size.saturating_sub(h.data_offset as u64);
    if body != needed as u64 {
        return Err(fail(format!(
            "data is {body} bytes, shape {}x{} needs {needed}",
            h.rows, h.cols
        )));
    }
    Ok(h)
}

/// Encodes a matrix as a version 1.0 `.npy`.
pub fn encode<T: Element>(m: &Matrix<T>) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
        T::DESCR,
        m.rows,
        m.cols
    );
    // Pad so the data starts on a 64-byte boundary, ending the header with '\n'.
    let total = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + m.data.len() * T::SIZE);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &m.data {
        v.to_le(&mut out);
    }
    out
}

/// Reads a `.npy` file.
pub fn read<T: Element>(path: &std::path::Path) -> Result<Matrix<T>, WorkError> {
    let bytes = std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    parse(&bytes).map_err(|e| err(format!("{}: {e}", path.display())))
}

/// Writes a `.npy` file.
pub fn write<T: Element>(path: &std::path::Path, m: &Matrix<T>) -> Result<(), WorkError> {
    std::fs::write(path, encode(m)).map_err(|e| err(format!("{}: {e}", path.display())))
}
