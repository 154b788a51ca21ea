// C = A * B for int8 A (m x k) and B (k x n), exact i32 C (|C_ij| <= k * 2^14 <= 2^30 for
// k <= 65,535: no overflow). Both operands arrive as packed int8 rows of kw = ceil(k / 4)
// words, zero-padded: A row-major, and B transposed (one row per column of B), so each
// thread reads two contiguous runs and multiplies four pairs per `dot4I8Packed` (the
// hardware's packed int8 dot product where it has one; naga lowers it otherwise). One
// thread per output entry of a chunk of rows; 16 x 16 workgroups.

struct Params {
    m_rows: u32,   // rows in this chunk (A holds only the chunk)
    kw: u32,       // packed words per row
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> bt: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<i32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(16, 16)
fn gemm(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.y;
    let col = id.x;
    if (row >= params.m_rows || col >= params.n) {
        return;
    }
    var acc = 0;
    let a0 = row * params.kw;
    let b0 = col * params.kw;
    for (var w = 0u; w < params.kw; w = w + 1u) {
        acc = acc + dot4I8Packed(a[a0 + w], bt[b0 + w]);
    }
    c[row * params.n + col] = acc;
}
