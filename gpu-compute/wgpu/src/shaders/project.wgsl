// Freivalds projections mod p = 2^31 - 1: y[v][row] = sum_j M[row][j] * x[v][j] mod p for
// VECTORS vectors in one pass over M (the check is memory-bound: the second vector is
// nearly free). One workgroup per row; its threads stride over the columns, then reduce
// mod p in workgroup memory. Only u32 arithmetic: 62-bit products are built from 16-bit
// limbs and reduced with 2^31 = 1 (mod p). Every partial sum stays in [0, p), so the
// result is the exact residue whatever the thread count: bit for bit the CPU's.
//
// M is a chunk of rows [params.row0, params.row0 + rows-in-chunk), row-major from the
// start of `matrix`: int8 packed four per u32 (little-endian bytes) for `project_i8`, i32
// for `project_i32`.

const P: u32 = 0x7fffffffu;
const WG: u32 = 256u;
const VECTORS: u32 = 2u;

struct Params {
    cols: u32,      // columns of M
    row0: u32,      // first row of this chunk
    rows: u32,      // rows in this chunk
    groups_x: u32,  // workgroups per dispatch row (2D dispatch past 65535 rows)
    total: u32,     // rows of M (y holds VECTORS * total)
}

@group(0) @binding(0) var<storage, read> matrix: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;           // VECTORS * cols
@group(0) @binding(2) var<storage, read_write> y: array<u32>;     // VECTORS * total rows
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<u32, 512>;                           // WG * VECTORS

fn add_mod(a: u32, b: u32) -> u32 {
    // a, b < p: the sum is < 2^32.
    let s = a + b;
    return select(s, s - P, s >= P);
}

fn mul_mod(a: u32, b: u32) -> u32 {
    // a, b < 2^31: the 62-bit product hi:lo from 16-bit limbs, then mod 2^31 - 1.
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let ll = a0 * b0;
    let mid = a1 * b0 + a0 * b1;           // each term < 2^31: no overflow
    let lo = ll + (mid << 16u);
    let carry = select(0u, 1u, lo < ll);
    let hi = a1 * b1 + (mid >> 16u) + carry;
    // x = hi * 2^32 + lo = (x >> 31) * 2^31 + (x & p) = (x >> 31) + (x & p) (mod p)
    let top = (hi << 1u) | (lo >> 31u);     // < 2^31
    return add_mod(top % P, lo & P);
}

// An int8 / i32 entry as a field element.
fn field_i32(v: i32) -> u32 {
    if (v >= 0) {
        return u32(v) % P;
    }
    let magnitude = u32(~v) + 1u;           // |v|, also for i32::MIN
    return (P - magnitude % P) % P;
}

fn entry_i8(local: u32) -> u32 {
    let word = matrix[local >> 2u];
    let byte = (word >> ((local & 3u) * 8u)) & 0xffu;
    return select(byte, P - (256u - byte), byte >= 128u);
}

fn row_index(wg: vec3<u32>) -> u32 {
    return wg.x + wg.y * params.groups_x;
}

fn reduce_and_store(t: u32, row: u32, acc0: u32, acc1: u32) {
    partial[t] = acc0;
    partial[WG + t] = acc1;
    workgroupBarrier();
    var stride = WG / 2u;
    loop {
        if (stride == 0u) { break; }
        if (t < stride) {
            partial[t] = add_mod(partial[t], partial[t + stride]);
            partial[WG + t] = add_mod(partial[WG + t], partial[WG + t + stride]);
        }
        workgroupBarrier();
        stride = stride / 2u;
    }
    if (t == 0u) {
        let global = params.row0 + row;
        y[global] = partial[0];
        y[params.total + global] = partial[WG];
    }
}

@compute @workgroup_size(256)
fn project_i8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = row_index(wg);
    var acc0 = 0u;
    var acc1 = 0u;
    if (row < params.rows) {
        let base = row * params.cols;
        for (var j = t; j < params.cols; j = j + WG) {
            let m = entry_i8(base + j);
            acc0 = add_mod(acc0, mul_mod(m, x[j]));
            acc1 = add_mod(acc1, mul_mod(m, x[params.cols + j]));
        }
    }
    // Every thread reaches the barriers (uniform control flow); rows past the end store
    // nothing.
    workgroupBarrier();
    if (row < params.rows) {
        reduce_and_store(t, row, acc0, acc1);
    }
}

@compute @workgroup_size(256)
fn project_i32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = row_index(wg);
    var acc0 = 0u;
    var acc1 = 0u;
    if (row < params.rows) {
        let base = row * params.cols;
        for (var j = t; j < params.cols; j = j + WG) {
            let m = field_i32(bitcast<i32>(matrix[base + j]));
            acc0 = add_mod(acc0, mul_mod(m, x[j]));
            acc1 = add_mod(acc1, mul_mod(m, x[params.cols + j]));
        }
    }
    workgroupBarrier();
    if (row < params.rows) {
        reduce_and_store(t, row, acc0, acc1);
    }
}
