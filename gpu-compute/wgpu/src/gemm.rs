//! `C = A * B` on the GPU for miners (int8 in, exact i32 out) with packed int8 dot
//! products: A's rows and B's columns are packed four to a word (k zero-padded to a
//! multiple of 4), A and C stream in row chunks under the storage binding limit, B^T is
//! bound whole.

use taochain_work::Matrix;
use wgpu::util::DeviceExt;

use crate::{GpuError, GpuVerifier, bind, i8_bytes};

/// The buffers of one product: B^T whole, and one chunk each of A, C and C's readback.
struct GemmBuffers {
    b: wgpu::Buffer,
    b_len: u64,
    a: wgpu::Buffer,
    c: wgpu::Buffer,
    staging: wgpu::Buffer,
}

impl GpuVerifier {
    /// The exact product. Errors when B alone exceeds the binding limit (use the CPU).
    pub fn gemm(&self, a: &Matrix<i8>, b: &Matrix<i8>) -> Result<Matrix<i32>, GpuError> {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        if b.rows != k || k > taochain_work::MAX_K {
            return Err(GpuError::Device(format!(
                "gemm shapes {m}x{k} * {}x{n} do not chain (or k > {})",
                b.rows,
                taochain_work::MAX_K
            )));
        }
        let mut out =
            Matrix::new(m, n, vec![0i32; m * n]).ok_or_else(|| GpuError::Device("shape".into()))?;
        if m == 0 || n == 0 || k == 0 {
            return Ok(out);
        }
        let limit = self.chunk_bytes;
        // Packed rows of kw words: A row-major, B transposed.
        let kw = k.div_ceil(4);
        let row_len = 4 * kw;
        let b_bytes = pack_transposed(b, row_len);
        if b_bytes.len() as u64 > limit {
            return Err(GpuError::RowTooLarge(b_bytes.len() as u64));
        }
        let row_bytes = (row_len as u64).max(4 * n as u64);
        let chunk_rows = ((limit / row_bytes) as usize).clamp(1, m).min(65_535 * 16);
        let bufs = self.gemm_buffers(&b_bytes, chunk_rows, row_len, n);
        let mut row0 = 0;
        while row0 < m {
            let rows = chunk_rows.min(m - row0);
            let a_chunk = pack_rows(a, row0, rows, row_len);
            let words = self.gemm_chunk(&bufs, &a_chunk, rows, kw, n)?;
            for (dst, w) in out.data[row0 * n..(row0 + rows) * n].iter_mut().zip(words) {
                *dst = w as i32;
            }
            row0 += rows;
        }
        Ok(out)
    }

    /// Uploads B^T and allocates the A, C and staging buffers for `chunk_rows` rows.
    fn gemm_buffers(
        &self,
        b_bytes: &[u8],
        chunk_rows: usize,
        row_len: usize,
        n: usize,
    ) -> GemmBuffers {
        let d = &self.device;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let b = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gemm b"),
            contents: b_bytes,
            usage,
        });
        let a = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gemm a"),
            size: chunk_rows as u64 * row_len as u64,
            usage,
            mapped_at_creation: false,
        });
        let c_size = chunk_rows as u64 * n as u64 * 4;
        let c = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gemm c"),
            size: c_size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gemm staging"),
            size: c_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GemmBuffers {
            b,
            b_len: b_bytes.len() as u64,
            a,
            c,
            staging,
        }
    }

    /// Multiplies one packed chunk of `rows` rows of A by B; returns its rows of C as words.
    fn gemm_chunk(
        &self,
        bufs: &GemmBuffers,
        a_chunk: &[u8],
        rows: usize,
        kw: usize,
        n: usize,
    ) -> Result<Vec<u32>, GpuError> {
        let d = &self.device;
        self.queue.write_buffer(&bufs.a, 0, a_chunk);
        let params: [u32; 4] = [rows as u32, kw as u32, n as u32, 0];
        let uniform = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gemm params"),
            contents: &params
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bytes_out = rows as u64 * n as u64 * 4;
        let group = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gemm"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: bind(&bufs.a, a_chunk.len() as u64),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: bind(&bufs.b, bufs.b_len),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: bind(&bufs.c, bytes_out),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: uniform.as_entire_binding(),
                },
            ],
        });
        let mut encoder = d.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.gemm);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups((n as u32).div_ceil(16), (rows as u32).div_ceil(16), 1);
        }
        encoder.copy_buffer_to_buffer(&bufs.c, 0, &bufs.staging, 0, bytes_out);
        self.queue.submit([encoder.finish()]);
        self.read(&bufs.staging, bytes_out)
    }
}

/// B transposed, each column packed into `row_len` bytes (k zero-padded).
fn pack_transposed(b: &Matrix<i8>, row_len: usize) -> Vec<u8> {
    let n = b.cols;
    let mut bt = vec![0u8; n * row_len];
    for (kk, brow) in b.data.chunks_exact(n).enumerate() {
        for (j, v) in brow.iter().enumerate() {
            bt[j * row_len + kk] = *v as u8;
        }
    }
    bt
}

/// Rows `row0..row0 + rows` of A, each packed into `row_len` bytes (k zero-padded).
fn pack_rows(a: &Matrix<i8>, row0: usize, rows: usize, row_len: usize) -> Vec<u8> {
    let k = a.cols;
    let mut a_chunk = vec![0u8; rows * row_len];
    for (r, arow) in a.data[row0 * k..(row0 + rows) * k]
        .chunks_exact(k)
        .enumerate()
    {
        a_chunk[r * row_len..r * row_len + k].copy_from_slice(&i8_bytes(arow));
    }
    a_chunk
}
