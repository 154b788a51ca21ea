// C = A * B for int8 A (m x k, packed four per u32) and int8 B (k x n, packed), exact i32 C
// (|C_ij| <= k * 2^14 <= 2^30 for k <= 65,535: no overflow). One thread per output entry
// of a chunk of rows [row0, row0 + rows); 16 x 16 workgroups.

struct Params {
    m_rows: u32,   // rows in this chunk
    k: u32,
    n: u32,
    row0: u32,     // first row of A (and C) in this chunk; A holds only the chunk
}

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<i32>;
@group(0) @binding(3) var<uniform> params: Params;

fn byte_at(word: u32, index: u32) -> i32 {
    let byte = (word >> ((index & 3u) * 8u)) & 0xffu;
    return i32(byte) - select(0, 256, byte >= 128u);
}

fn a_at(e: u32) -> i32 { return byte_at(a[e >> 2u], e); }
fn b_at(e: u32) -> i32 { return byte_at(b[e >> 2u], e); }

@compute @workgroup_size(16, 16)
fn gemm(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.y;
    let col = id.x;
    if (row >= params.m_rows || col >= params.n) {
        return;
    }
    var acc = 0;
    let base = row * params.k;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        acc = acc + a_at(base + kk) * b_at(kk * params.n + col);
    }
    c[row * params.n + col] = acc;
}
