//! 16-bit PCM WAV in and out, and resampling to 16 kHz. The reader walks the RIFF chunks
//! (any order, odd sizes padded, unknown chunks skipped, a streaming `data` size clamped to
//! the file), accepts plain and extensible PCM, and mixes channels down to mono. The writer
//! produces the canonical 44-byte header. The resampler is a windowed-sinc (Hann) low-pass
//! interpolator with a precomputed polyphase table. It owns no file I/O.

use std::f64::consts::PI;

/// The rate every speech challenge and the reference model use.
pub(crate) const RATE_16K: u32 = 16_000;
/// Zero crossings of the sinc on each side of a tap (at the output's cutoff).
const ZERO_CROSSINGS: f64 = 16.0;
/// At most this many taps on each side, whatever the rate ratio.
const MAX_HALF_TAPS: usize = 64;
/// Highest sample rate accepted.
const MAX_RATE: u32 = 384_000;

/// Mono 16-bit audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pcm {
    /// Samples per second.
    pub rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

/// The audio in a WAV file; `Err` says why it is not 16-bit PCM WAV.
pub(crate) fn decode(bytes: &[u8]) -> Result<Pcm, String> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut format = None;
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let id = &rest[..4];
        let size = u32_at(rest, 4) as usize;
        let body = &rest[8..];
        let body = &body[..size.min(body.len())];
        match id {
            b"fmt " => format = Some(parse_format(body)?),
            b"data" => {
                let (channels, rate) = format.ok_or("the data chunk comes before fmt")?;
                return Ok(Pcm {
                    rate,
                    samples: mix_down(body, channels),
                });
            }
            _ => {}
        }
        let skip = 8usize.saturating_add(size).saturating_add(size & 1);
        rest = rest.get(skip..).unwrap_or_default();
    }
    Err("no data chunk".into())
}

/// `(channels, rate)` of a `fmt ` chunk, refusing anything but 16-bit PCM.
fn parse_format(body: &[u8]) -> Result<(usize, u32), String> {
    if body.len() < 16 {
        return Err("fmt chunk too short".into());
    }
    let mut tag = u16_at(body, 0);
    if tag == 0xfffe && body.len() >= 26 {
        // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the format tag.
        tag = u16_at(body, 24);
    }
    let channels = u16_at(body, 2);
    let rate = u32_at(body, 4);
    let bits = u16_at(body, 14);
    if tag != 1 || bits != 16 {
        return Err(format!(
            "only 16-bit PCM is read (format {tag}, {bits} bits)"
        ));
    }
    if channels == 0 || rate == 0 || rate > MAX_RATE {
        return Err(format!("bad format: {channels} channels at {rate} Hz"));
    }
    Ok((usize::from(channels), rate))
}

/// Interleaved little-endian frames averaged to mono (a trailing partial frame dropped).
fn mix_down(data: &[u8], channels: usize) -> Vec<i16> {
    let frame = channels * 2;
    data.chunks_exact(frame)
        .map(|f| {
            let sum: i32 = f
                .chunks_exact(2)
                .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                .sum();
            // The mean of i16 values is an i16.
            i16::try_from(sum / channels as i32).unwrap_or_default()
        })
        .collect()
}

/// `pcm` as a canonical WAV file (44-byte header, mono, 16-bit), `Err` if over 4 GiB.
pub(crate) fn encode(pcm: &Pcm) -> Result<Vec<u8>, String> {
    let data_len = (pcm.samples.len().checked_mul(2))
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= u32::MAX - 36)
        .ok_or("audio too long for WAV")?;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&pcm.rate.to_le_bytes());
    out.extend_from_slice(&(pcm.rate.saturating_mul(2)).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in &pcm.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}

/// `pcm` resampled to 16 kHz (returned as is when already there).
pub(crate) fn to_16k(pcm: &Pcm) -> Pcm {
    let (from, to) = (u64::from(pcm.rate), u64::from(RATE_16K));
    if from == to || pcm.samples.is_empty() || from == 0 {
        return Pcm {
            rate: RATE_16K,
            samples: pcm.samples.clone(),
        };
    }
    let table = Polyphase::new(from, to);
    let x = &pcm.samples;
    let out_len = (x.len() as u64 * to / from) as usize;
    let samples = (0..out_len as u64)
        .map(|n| {
            let pos = n * from;
            let (base, phase) = ((pos / to) as usize, ((pos % to) / table.step) as usize);
            table.apply(x, base, phase)
        })
        .collect();
    Pcm {
        rate: RATE_16K,
        samples,
    }
}

/// Windowed-sinc coefficients for each fractional position an output sample can fall on.
struct Polyphase {
    /// Taps on each side of the output position.
    half: usize,
    /// `gcd(from, to)`: fractional positions are multiples of `step / to`.
    step: u64,
    /// `to / step` rows of `2 * half` coefficients, each row summing to 1.
    rows: Vec<f32>,
}

impl Polyphase {
    fn new(from: u64, to: u64) -> Polyphase {
        let step = gcd(from, to);
        let phases = (to / step) as usize;
        // Cutoff just under the lower Nyquist, in cycles per input sample (x2).
        let cutoff = 0.95 * (to as f64 / from as f64).min(1.0);
        let half = ((ZERO_CROSSINGS / cutoff).ceil() as usize).clamp(1, MAX_HALF_TAPS);
        let mut rows = Vec::with_capacity(phases * 2 * half);
        for p in 0..phases {
            let frac = (p as u64 * step) as f64 / to as f64;
            let row: Vec<f64> = (0..2 * half)
                .map(|j| {
                    // Distance from the output position to input sample `base + 1 - half + j`.
                    let d = frac + half as f64 - 1.0 - j as f64;
                    let window = 0.5 * (1.0 + (PI * d / half as f64).cos());
                    if d.abs() >= half as f64 {
                        0.0
                    } else {
                        cutoff * sinc(cutoff * d) * window
                    }
                })
                .collect();
            let sum: f64 = row.iter().sum();
            let norm = if sum.abs() > 1e-9 { sum } else { 1.0 };
            rows.extend(row.iter().map(|c| (c / norm) as f32));
        }
        Polyphase { half, step, rows }
    }

    /// The output sample at input position `base + phase * step / to`.
    fn apply(&self, x: &[i16], base: usize, phase: usize) -> i16 {
        let taps = 2 * self.half;
        let row = self
            .rows
            .get(phase * taps..(phase + 1) * taps)
            .unwrap_or_default();
        let first = base as i64 + 1 - self.half as i64;
        let mut acc = 0.0f32;
        for (j, c) in row.iter().enumerate() {
            let k = first + j as i64;
            if let Some(s) = usize::try_from(k).ok().and_then(|k| x.get(k)) {
                acc += c * f32::from(*s);
            }
        }
        acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// The little-endian `u16` at `at` (0 past the end; callers check lengths first).
fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

/// The little-endian `u32` at `at` (0 past the end; callers check lengths first).
fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk: id, little-endian size, body, pad byte when odd.
    fn chunk(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        f.extend_from_slice(&(channels * 2).to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(&body);
        out
    }

    fn le(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn encode_then_decode_round_trips_with_a_canonical_header() {
        let pcm = Pcm {
            rate: RATE_16K,
            samples: vec![0, 1, -1, i16::MAX, i16::MIN],
        };
        let bytes = encode(&pcm).expect("small audio encodes");
        assert_eq!(bytes.len(), 44 + 10);
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(decode(&bytes), Ok(pcm));
    }

    #[test]
    fn decode_walks_chunks_and_mixes_stereo() {
        let data = le(&[100, 300, -5, -7, 1]); // two frames and a partial one
        let bytes = riff(&[
            chunk(b"LIST", b"odd"),
            chunk(b"fmt ", &fmt(1, 2, 22_050, 16)),
            chunk(b"junk", &[9; 7]),
            chunk(b"data", &data),
        ]);
        let pcm = decode(&bytes).expect("valid stereo WAV");
        assert_eq!(pcm.rate, 22_050);
        assert_eq!(pcm.samples, [200, -6]);
    }

    #[test]
    fn decode_accepts_extensible_pcm_and_a_streaming_data_size() {
        let mut format = fmt(0xfffe, 1, 16_000, 16);
        format.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        format.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        format.extend_from_slice(&4u32.to_le_bytes()); // channel mask
        format.extend_from_slice(&1u16.to_le_bytes()); // sub-format: PCM
        format.extend_from_slice(&[0; 14]);
        let mut bytes = riff(&[chunk(b"fmt ", &format)]);
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&le(&[1, 2, 3]));
        assert_eq!(decode(&bytes).map(|p| p.samples), Ok(vec![1, 2, 3]));
    }

    #[test]
    fn decode_refuses_what_it_cannot_read() {
        let data = chunk(b"data", &le(&[1, 2]));
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"RIFF\0\0\0\0WAVX".to_vec(),
            riff(&[]),
            riff(std::slice::from_ref(&data)),
            riff(&[chunk(b"fmt ", &fmt(1, 1, 8000, 8)), data.clone()]),
            riff(&[chunk(b"fmt ", &fmt(3, 1, 8000, 16)), data.clone()]),
            riff(&[chunk(b"fmt ", &fmt(1, 0, 8000, 16)), data.clone()]),
            riff(&[chunk(b"fmt ", &fmt(1, 1, 0, 16)), data.clone()]),
            riff(&[chunk(b"fmt ", &[1, 0, 1])]),
            riff(&[chunk(b"fmt ", &fmt(1, 1, 8000, 16))]),
        ];
        for bytes in cases {
            assert!(decode(&bytes).is_err(), "{bytes:?}");
        }
        // Truncated anywhere: an error or fewer samples, never a panic.
        let full = riff(&[chunk(b"fmt ", &fmt(1, 1, 8000, 16)), data]);
        for cut in 0..full.len() {
            let _ = decode(&full[..cut]);
        }
    }

    /// The amplitude of a `freq` Hz tone in `samples` at `rate` (correlation with a sine
    /// and a cosine, skipping the edges).
    fn tone_level(samples: &[i16], rate: u32, freq: f64) -> f64 {
        let inner = &samples[samples.len() / 8..samples.len() * 7 / 8];
        let (mut s, mut c) = (0.0, 0.0);
        for (i, x) in inner.iter().enumerate() {
            let t = 2.0 * PI * freq * i as f64 / f64::from(rate);
            s += f64::from(*x) * t.sin();
            c += f64::from(*x) * t.cos();
        }
        2.0 * (s * s + c * c).sqrt() / inner.len() as f64
    }

    fn tone(rate: u32, freq: f64, seconds: f64) -> Pcm {
        let n = (f64::from(rate) * seconds) as usize;
        let samples = (0..n)
            .map(|i| (10_000.0 * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as i16)
            .collect();
        Pcm { rate, samples }
    }

    #[test]
    fn resampling_keeps_speech_band_tones_and_drops_aliases() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 22_051] {
            let out = to_16k(&tone(rate, 1000.0, 0.5));
            assert_eq!(out.rate, RATE_16K);
            let want = 8_000;
            assert!(
                out.samples.len().abs_diff(want) <= 1,
                "{rate}: {}",
                out.samples.len()
            );
            let level = tone_level(&out.samples, RATE_16K, 1000.0);
            assert!((9_500.0..10_500.0).contains(&level), "{rate}: {level}");
        }
        // 10 kHz is above the new Nyquist: it must not come back as a 6 kHz alias.
        let out = to_16k(&tone(22_050, 10_000.0, 0.5));
        let alias = tone_level(&out.samples, RATE_16K, 6_000.0);
        assert!(alias < 300.0, "{alias}");
    }

    #[test]
    fn resampling_16k_or_nothing_is_the_identity() {
        let pcm = Pcm {
            rate: RATE_16K,
            samples: vec![1, 2, 3],
        };
        assert_eq!(to_16k(&pcm), pcm);
        let empty = Pcm {
            rate: 44_100,
            samples: vec![],
        };
        assert!(to_16k(&empty).samples.is_empty());
        let loud = Pcm {
            rate: 8_000,
            samples: vec![i16::MAX, i16::MIN, i16::MAX, i16::MIN],
        };
        assert_eq!(to_16k(&loud).samples.len(), 8);
    }
}
