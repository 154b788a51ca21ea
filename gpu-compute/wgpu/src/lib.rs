//! The wgpu backend of the useful-work verifier. [`GpuVerifier`] computes the same Freivalds
//! projections as [`taochain_work::CpuVerifier`] (`A (B r)` and `C r` mod 2^31 - 1, for
//! both vectors in one pass over each matrix) in the WGSL kernels of `shaders/`, so its
//! verdicts equal the CPU reference's bit for bit; the tests compare the projections.
//!
//! Device selection is headless: [`GpuMode`] (`TAOCHAIN_GPU=auto|off|required`) picks the
//! highest-performance adapter of the primary backends (Vulkan, Metal, DX12; a machine with
//! no GPU gets lavapipe, Mesa's software Vulkan, when installed). The device is requested
//! with the adapter's real limits; matrices are streamed in row chunks no larger than
//! `max_storage_buffer_binding_size`, and pipelines and buffers are reused across calls.
//! It knows nothing of blocks or the chain.

mod gemm;
mod resident;
mod roofline;

pub use resident::{DEFAULT_RESIDENT_BYTES, MAX_RESIDENT_ENTRIES, ResidentStats};
use resident::{Lookup, Resident};

use std::sync::Mutex;

use taochain_work::{
    BlobKeys, MatmulStatement, Projections, Verdict, Verifier, WorkError, check_shapes, compare,
    random_vectors,
};
use wgpu::util::DeviceExt;

const _: () = assert!(
    taochain_work::VECTORS == 2,
    "the kernels project two vectors per pass"
);

/// Most workgroups in one dispatch dimension (WebGPU's guaranteed minimum).
const MAX_GROUPS_X: u32 = 65_535;

/// Whether and how to use a GPU (`TAOCHAIN_GPU`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuMode {
    /// Use an adapter when there is one (the default).
    Auto,
    /// Never.
    Off,
    /// An adapter must exist; failing to find one is an error.
    Required,
}

impl GpuMode {
    /// From `TAOCHAIN_GPU` (`auto` when unset).
    pub fn from_env() -> Result<Self, GpuError> {
        match std::env::var("TAOCHAIN_GPU").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Ok(GpuMode::Auto),
            Ok("off") => Ok(GpuMode::Off),
            Ok("required") => Ok(GpuMode::Required),
            Ok(other) => Err(GpuError::BadMode(other.to_string())),
        }
    }
}

/// Failures of the GPU backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// `TAOCHAIN_GPU` has an unknown value.
    #[error("TAOCHAIN_GPU=`{0}`: expected auto, off or required")]
    BadMode(String),
    /// No adapter although one is required.
    #[error("no GPU adapter found (TAOCHAIN_GPU=required): {0}")]
    NoAdapter(String),
    /// The device could not be opened.
    #[error("opening the GPU device failed: {0}")]
    Device(String),
    /// Reading results back failed.
    #[error("GPU readback failed: {0}")]
    Readback(String),
    /// One row is larger than the adapter can bind.
    #[error("a row of {0} bytes exceeds the adapter's storage binding limit")]
    RowTooLarge(u64),
}

/// Buffers kept between calls, grown on demand.
#[derive(Default)]
struct Buffers {
    matrix: Option<wgpu::Buffer>,
    x: Option<wgpu::Buffer>,
    y: Option<wgpu::Buffer>,
    staging: Option<wgpu::Buffer>,
}

fn ensure<'a>(
    device: &wgpu::Device,
    slot: &'a mut Option<wgpu::Buffer>,
    size: u64,
    usage: wgpu::BufferUsages,
    label: &str,
) -> &'a wgpu::Buffer {
    let size = size.max(4).next_multiple_of(4);
    if slot.as_ref().is_none_or(|b| b.size() < size) {
        *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        }));
    }
    slot.as_ref().expect("just set")
}

/// The GPU verifier.
pub struct GpuVerifier {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    layout: wgpu::BindGroupLayout,
    project_i8: wgpu::ComputePipeline,
    project_i32: wgpu::ComputePipeline,
    gemm: wgpu::ComputePipeline,
    copy: wgpu::ComputePipeline,
    chunk_bytes: u64,
    buffers: Mutex<Buffers>,
    resident: Mutex<Resident>,
}

/// Element type of a projected matrix.
#[derive(Clone, Copy)]
enum Kind {
    I8,
    I32,
}

impl Kind {
    fn bytes(self) -> u64 {
        match self {
            Kind::I8 => 1,
            Kind::I32 => 4,
        }
    }
}

/// Where a projected matrix comes from.
enum Source {
    /// Host bytes, streamed to the device in chunks.
    Host(Vec<u8>),
    /// A resident buffer holding every row (`bytes` in use).
    Device(wgpu::Buffer, u64),
}

impl GpuVerifier {
    /// Opens the best adapter according to `mode`: `Ok(None)` when off, or when `auto`
    /// finds none.
    pub fn open(mode: GpuMode) -> Result<Option<Self>, GpuError> {
        if mode == GpuMode::Off {
            return Ok(None);
        }
        // Primary backends only: starting GL/EGL too costs ~0.4 s and adds nothing here.
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = wgpu::Backends::PRIMARY;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        }));
        let adapter = match adapter {
            Ok(a) => a,
            Err(e) if mode == GpuMode::Required => return Err(GpuError::NoAdapter(e.to_string())),
            Err(_) => return Ok(None),
        };
        Self::with_adapter(&adapter).map(Some)
    }

    /// Opens the device on `adapter` with its real limits and builds the pipelines.
    fn with_adapter(adapter: &wgpu::Adapter) -> Result<Self, GpuError> {
        let limits = adapter.limits();
        let (device, queue) = open_device(adapter, &limits)?;
        let layout = bind_group_layout(&device);
        let [project_i8, project_i32, gemm, copy] = pipelines(&device, &layout);
        Ok(GpuVerifier {
            device,
            queue,
            info: adapter.get_info(),
            layout,
            project_i8,
            project_i32,
            gemm,
            copy,
            chunk_bytes: chunk_bytes(&limits),
            buffers: Mutex::new(Buffers::default()),
            resident: Mutex::new(Resident::new(DEFAULT_RESIDENT_BYTES)),
        })
    }

    /// Caps the bytes of one streamed chunk (tests use it to force many chunks).
    pub fn with_chunk_bytes(mut self, bytes: u64) -> Self {
        self.chunk_bytes = bytes.clamp(4, self.chunk_bytes) & !3;
        self
    }

    /// Sets the byte budget of the resident-matrix cache (evicting what no longer fits).
    pub fn with_resident_bytes(self, bytes: u64) -> Self {
        self.lock_resident().set_budget(bytes);
        self
    }

    /// What the resident-matrix cache holds, and its hits and misses.
    pub fn resident_stats(&self) -> ResidentStats {
        self.lock_resident().stats()
    }

    fn lock_resident(&self) -> std::sync::MutexGuard<'_, Resident> {
        self.resident.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The source of a matrix of `rows x cols` `kind` entries: its resident buffer when
    /// `key` names one (uploaded now on a miss), else `bytes()` to stream.
    fn source(
        &self,
        key: Option<&[u8; 32]>,
        kind: Kind,
        rows: usize,
        cols: usize,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> Source {
        let len = (rows as u64 * cols as u64 * kind.bytes())
            .next_multiple_of(4)
            .max(4);
        let Some(key) = key.filter(|_| len <= self.chunk_bytes) else {
            return Source::Host(bytes());
        };
        let shape = [len, rows as u64, cols as u64, kind.bytes()];
        let mut cache = self.lock_resident();
        match cache.lookup(key, shape) {
            Lookup::Hit(buffer) => Source::Device(buffer, len),
            Lookup::Refused => Source::Host(bytes()),
            Lookup::Miss => {
                let mut data = bytes();
                let exact = data.len();
                data.resize(len as usize, 0);
                // A full device is not an error of the work: stream this matrix instead
                // (wgpu's default for an uncaptured out-of-memory error is a panic).
                let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let buffer = self
                    .device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("resident"),
                        contents: &data,
                        usage: wgpu::BufferUsages::STORAGE,
                    });
                if pollster::block_on(scope.pop()).is_some() {
                    data.truncate(exact);
                    return Source::Host(data);
                }
                cache.insert(*key, shape, buffer.clone());
                Source::Device(buffer, len)
            }
        }
    }

    /// A software adapter (lavapipe): correct, but slower than the CPU reference, so
    /// `auto` choices skip it.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The adapter's name, backend and type.
    pub fn adapter(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// `[M x0, M x1]` mod p for a row-major matrix of `rows x cols` (the source holds
    /// int8 entries or little-endian i32 ones).
    fn project(
        &self,
        kind: Kind,
        source: Source,
        rows: usize,
        cols: usize,
        x: [&[u32]; 2],
    ) -> Result<[Vec<u32>; 2], GpuError> {
        if rows == 0 {
            return Ok([vec![], vec![]]);
        }
        let row_bytes = (cols as u64 * kind.bytes()).max(1);
        if row_bytes > self.chunk_bytes {
            return Err(GpuError::RowTooLarge(row_bytes));
        }
        let chunk_rows = (self.chunk_bytes / row_bytes).clamp(1, rows as u64) as usize;
        let streamed = match &source {
            Source::Host(_) => chunk_rows as u64 * row_bytes,
            Source::Device(..) => 4,
        };
        // The reused buffers stay locked until the result is read back: two calls never
        // share them.
        let mut guard = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let bufs = self.project_buffers(&mut guard, streamed, rows, x);
        let pipeline = match kind {
            Kind::I8 => &self.project_i8,
            Kind::I32 => &self.project_i32,
        };
        match source {
            Source::Device(buffer, len) => {
                self.project_chunk(pipeline, &bufs, (&buffer, len), [cols, 0, rows, rows], true);
            }
            Source::Host(bytes) => {
                let mut row0 = 0usize;
                while row0 < rows {
                    let n = chunk_rows.min(rows - row0);
                    let start = row0 * row_bytes as usize;
                    let mut chunk = bytes[start..start + n * row_bytes as usize].to_vec();
                    chunk.resize(chunk.len().next_multiple_of(4), 0);
                    self.queue.write_buffer(&bufs.matrix, 0, &chunk);
                    let last = row0 + n >= rows;
                    let matrix = (&bufs.matrix, chunk.len() as u64);
                    self.project_chunk(pipeline, &bufs, matrix, [cols, row0, n, rows], last);
                    row0 += n;
                }
            }
        }
        let out = self.read(&bufs.staging, bufs.y_size)?;
        drop(guard);
        let (first, second) = out.split_at(rows);
        Ok([first.to_vec(), second.to_vec()])
    }

    /// The projection's buffers, reused across calls (grown when too small), with the
    /// two vectors `x` written.
    fn project_buffers(
        &self,
        bufs: &mut Buffers,
        matrix_bytes: u64,
        rows: usize,
        x: [&[u32]; 2],
    ) -> ProjectBuffers {
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let matrix = ensure(
            &self.device,
            &mut bufs.matrix,
            matrix_bytes,
            storage,
            "matrix",
        )
        .clone();
        let mut xs: Vec<u32> = Vec::with_capacity(x[0].len() + x[1].len());
        xs.extend_from_slice(x[0]);
        xs.extend_from_slice(x[1]);
        let x_bytes = xs.len() as u64 * 4;
        let x_buf = ensure(&self.device, &mut bufs.x, x_bytes, storage, "x").clone();
        self.queue.write_buffer(&x_buf, 0, &words_to_bytes(&xs));
        let y_size = 2 * rows as u64 * 4;
        let y = ensure(
            &self.device,
            &mut bufs.y,
            y_size,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            "y",
        )
        .clone();
        let staging = ensure(
            &self.device,
            &mut bufs.staging,
            y_size,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            "staging",
        )
        .clone();
        ProjectBuffers {
            matrix,
            x: x_buf,
            x_bytes,
            y,
            y_size,
            staging,
        }
    }

    /// Projects one chunk of `n` rows starting at `row0` (`dims` = `[cols, row0, n,
    /// rows]`) held in the first `matrix.1` bytes of `matrix.0`; after the `last` chunk,
    /// copies the result to the staging buffer.
    fn project_chunk(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bufs: &ProjectBuffers,
        matrix: (&wgpu::Buffer, u64),
        dims: [usize; 4],
        last: bool,
    ) {
        let [cols, row0, n, rows] = dims;
        let groups_x = (n as u32).min(MAX_GROUPS_X);
        let groups_y = (n as u32).div_ceil(groups_x);
        let params: [u32; 8] = [
            cols as u32,
            row0 as u32,
            n as u32,
            groups_x,
            rows as u32,
            0,
            0,
            0,
        ];
        let uniform = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &words_to_bytes(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("project"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: bind(matrix.0, matrix.1),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: bind(&bufs.x, bufs.x_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: bind(&bufs.y, bufs.y_size),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: uniform.as_entire_binding(),
                },
            ],
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(groups_x, groups_y, 1);
        }
        if last {
            encoder.copy_buffer_to_buffer(&bufs.y, 0, &bufs.staging, 0, bufs.y_size);
        }
        self.queue.submit([encoder.finish()]);
    }

    pub(crate) fn read(&self, staging: &wgpu::Buffer, size: u64) -> Result<Vec<u32>, GpuError> {
        let slice = staging.slice(0..size);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let words = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            view.chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        staging.unmap();
        Ok(words)
    }
}

/// The buffers of one projection call.
struct ProjectBuffers {
    /// A chunk of the matrix's rows.
    matrix: wgpu::Buffer,
    /// The two random vectors, one after the other.
    x: wgpu::Buffer,
    /// Bytes of `x` in use.
    x_bytes: u64,
    /// The two projections (`2 * rows` words).
    y: wgpu::Buffer,
    /// Bytes of `y` in use.
    y_size: u64,
    /// Where `y` is read back from.
    staging: wgpu::Buffer,
}

/// Requests the device and its queue with the adapter's `limits`.
fn open_device(
    adapter: &wgpu::Adapter,
    limits: &wgpu::Limits,
) -> Result<(wgpu::Device, wgpu::Queue), GpuError> {
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("taochain-verify"),
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| GpuError::Device(e.to_string()))
}

/// The shared layout: two read-only inputs, one read-write output, one uniform.
fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("project"),
        entries: &[
            storage(0, true),
            storage(1, true),
            storage(2, false),
            wgpu::BindGroupLayoutEntry {
                binding: 3,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
        ],
    })
}

/// The `project_i8`, `project_i32`, `gemm` (all on `layout`) and `copy` pipelines.
fn pipelines(device: &wgpu::Device, layout: &wgpu::BindGroupLayout) -> [wgpu::ComputePipeline; 4] {
    let module = device.create_shader_module(wgpu::include_wgsl!("shaders/project.wgsl"));
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("project"),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    let project_i8 = compute_pipeline(device, Some(&pipeline_layout), &module, "project_i8");
    let project_i32 = compute_pipeline(device, Some(&pipeline_layout), &module, "project_i32");
    let gemm_module = device.create_shader_module(wgpu::include_wgsl!("shaders/gemm.wgsl"));
    let gemm = compute_pipeline(device, Some(&pipeline_layout), &gemm_module, "gemm");
    let copy_module = device.create_shader_module(wgpu::include_wgsl!("shaders/copy.wgsl"));
    let copy = compute_pipeline(device, None, &copy_module, "copy");
    [project_i8, project_i32, gemm, copy]
}

/// One compute pipeline, labelled by its `entry` point.
fn compute_pipeline(
    device: &wgpu::Device,
    layout: Option<&wgpu::PipelineLayout>,
    module: &wgpu::ShaderModule,
    entry: &str,
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout,
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// Bytes of one streamed chunk: the binding and buffer limits, at most 256 MiB, a multiple of 4.
fn chunk_bytes(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(256 << 20)
        & !3
}

/// Binds the first `size` bytes (rounded up to 4) of a buffer.
fn bind(b: &wgpu::Buffer, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: b,
        offset: 0,
        size: wgpu::BufferSize::new(size.max(4).next_multiple_of(4)),
    })
}

fn words_to_bytes(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn i8_bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl GpuVerifier {
    /// The projections of `s`, with A, B and C kept resident on the device under `keys`
    /// (the hashes of the blobs they were parsed from): bit for bit those of
    /// [`Verifier::projections`].
    pub fn projections_resident(
        &self,
        s: &MatmulStatement,
        keys: &BlobKeys,
    ) -> Result<Projections, WorkError> {
        self.projections_with(s, Some(keys))
    }

    fn projections_with(
        &self,
        s: &MatmulStatement,
        keys: Option<&BlobKeys>,
    ) -> Result<Projections, WorkError> {
        check_shapes(s)?;
        let gpu = |e: GpuError| WorkError::Backend(e.to_string());
        let r = random_vectors(&s.seed, s.b.cols);
        let (a, b, c) = (&s.a, &s.b, &s.c);
        let source_b = self.source(keys.map(|k| &k.b), Kind::I8, b.rows, b.cols, || {
            i8_bytes(&b.data)
        });
        let br = self
            .project(Kind::I8, source_b, b.rows, b.cols, [&r[0], &r[1]])
            .map_err(gpu)?;
        let source_a = self.source(keys.map(|k| &k.a), Kind::I8, a.rows, a.cols, || {
            i8_bytes(&a.data)
        });
        let abr = self
            .project(Kind::I8, source_a, a.rows, a.cols, [&br[0], &br[1]])
            .map_err(gpu)?;
        let source_c = self.source(keys.map(|k| &k.c), Kind::I32, c.rows, c.cols, || {
            i32_bytes(&c.data)
        });
        let cr = self
            .project(Kind::I32, source_c, c.rows, c.cols, [&r[0], &r[1]])
            .map_err(gpu)?;
        let [a0, a1] = abr;
        let [c0, c1] = cr;
        Ok(Projections {
            abr: vec![a0, a1],
            cr: vec![c0, c1],
        })
    }
}

impl Verifier for GpuVerifier {
    fn name(&self) -> String {
        format!("wgpu {}", self.adapter())
    }

    fn projections(&self, s: &MatmulStatement) -> Result<Projections, WorkError> {
        self.projections_with(s, None)
    }

    fn verify_blobs(&self, s: &MatmulStatement, keys: &BlobKeys) -> Result<Verdict, WorkError> {
        check_shapes(s)?;
        if let Some(bad) = taochain_work::cpu::first_out_of_bound(s) {
            return Ok(Err(bad));
        }
        Ok(compare(&self.projections_resident(s, keys)?))
    }
}
