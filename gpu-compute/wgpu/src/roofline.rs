//! The device's memory roofline: the bandwidth of a plain copy kernel on data already on
//! the device (read + write bytes per second), what `tao bench verify` compares with.

use std::time::Instant;

use crate::{GpuError, GpuVerifier, bind};

impl GpuVerifier {
    /// Bytes per second moved by the best of `runs` device-side copies of `bytes` bytes.
    pub fn copy_bandwidth(&self, bytes: u64, runs: usize) -> Result<f64, GpuError> {
        let bytes = bytes.clamp(16, self.chunk_bytes).next_multiple_of(16);
        let d = &self.device;
        let make = |label, usage| {
            d.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let src = make(
            "copy src",
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let dst = make("copy dst", wgpu::BufferUsages::STORAGE);
        let group = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("copy"),
            layout: &self.copy.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: bind(&src, bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: bind(&dst, bytes),
                },
            ],
        });
        let vec4s = (bytes / 16) as u32;
        let groups = vec4s.div_ceil(256);
        let (gx, gy) = (groups.min(65_535), groups.div_ceil(65_535));
        let mut best = f64::MAX;
        for run in 0..runs.max(1) + 1 {
            let mut encoder = d.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.copy);
                pass.set_bind_group(0, &group, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
            let t = Instant::now();
            self.queue.submit([encoder.finish()]);
            d.poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            // The first run warms up (page faults, lazy allocation) and is not counted.
            if run > 0 {
                best = best.min(t.elapsed().as_secs_f64());
            }
        }
        Ok(2.0 * bytes as f64 / best)
    }
}
