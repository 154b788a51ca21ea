//! Image to text. A challenge is 2-4 vocabulary words drawn on one line in a DejaVu font
//! (face, size, ink and paper shades drawn per challenge), turned by up to 3 degrees and
//! sprinkled with light noise, encoded as an 8-bit grayscale PNG. Text is rasterised with
//! `ab_glyph` and the PNG written with `png`; nothing here reads a clock or the
//! environment beyond the font files. The reference model is `tesseract --psm 7` (one line
//! of text), run single-threaded.

use std::path::Path;
use std::time::Duration;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use rand::{Rng, RngCore};

use crate::process::{self, Program, temp_dir, write};
use crate::{TaskError, words};

const TESSERACT: Program = Program {
    name: "tesseract",
    package: "tesseract-ocr",
};
/// Where Debian's `fonts-dejavu-core` and `fonts-dejavu-extra` put their fonts.
const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";
/// The faces a challenge may use (those installed): upright and oblique, sans, serif, mono.
const FONTS: [&str; 9] = [
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerifCondensed.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansMono-Bold.ttf",
];
/// Tesseract's output for one line is tiny; more is refused.
const MAX_STDOUT: usize = 1 << 20;

/// How one challenge is drawn.
struct Style {
    size: f32,
    /// Rotation, radians.
    angle: f32,
    ink: f32,
    paper: f32,
    /// Noise amplitude, gray levels either way.
    noise: i32,
}

/// `(input PNG, truth)` of a fresh challenge.
pub(crate) fn challenge(rng: &mut impl RngCore) -> Result<(Vec<u8>, String), TaskError> {
    let count = rng.gen_range(2..=4);
    let truth = words::pick(rng, count).join(" ");
    let font = pick_font(rng)?;
    let style = Style {
        size: rng.gen_range(28.0..=44.0),
        angle: rng.gen_range(-3.0f32..=3.0).to_radians(),
        ink: rng.gen_range(0.0..=70.0),
        paper: rng.gen_range(200.0..=255.0),
        noise: rng.gen_range(4..=16),
    };
    let (width, height, coverage) = rasterise(&font, style.size, &truth);
    let pixels = paint(&coverage, width, height, &style, rng);
    Ok((encode_png(&pixels, width, height)?, truth))
}

/// Tesseract's reading of the image file `input` (PNG, or any format it reads).
pub(crate) fn run_reference(input: &[u8], timeout: Duration) -> Result<String, TaskError> {
    let dir = temp_dir()?;
    let path = dir.path().join("input.png");
    write(&path, input)?;
    let args = [
        path.as_os_str(),
        "stdout".as_ref(),
        "--psm".as_ref(),
        "7".as_ref(),
    ];
    let env = [("OMP_THREAD_LIMIT", "1")];
    let out = process::run(TESSERACT, &args, &env, None, timeout, MAX_STDOUT)
        .map_err(missing_language)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Tesseract without its English data fails; say which package provides it.
fn missing_language(err: TaskError) -> TaskError {
    match err {
        TaskError::Failed { stderr, .. } if stderr.contains("Failed loading language") => {
            TaskError::MissingData {
                what: "tesseract's English data (eng.traineddata)".into(),
                package: "tesseract-ocr-eng",
            }
        }
        other => other,
    }
}

/// One of the installed [`FONTS`], drawn with `rng`.
fn pick_font(rng: &mut impl RngCore) -> Result<FontVec, TaskError> {
    let installed: Vec<_> = FONTS
        .iter()
        .map(|name| Path::new(FONT_DIR).join(name))
        .filter(|path| path.is_file())
        .collect();
    if installed.is_empty() {
        return Err(TaskError::MissingData {
            what: format!("no DejaVu font in {FONT_DIR}"),
            package: "fonts-dejavu-core",
        });
    }
    let path = &installed[rng.gen_range(0..installed.len())];
    let bytes = process::read(path)?;
    FontVec::try_from_vec(bytes).map_err(|e| TaskError::Render(format!("{}: {e}", path.display())))
}

/// `text` on one line at `size` pixels: `(width, height, coverage in 0..=1 per pixel)`,
/// with a margin of half the size all round.
fn rasterise(font: &FontVec, size: f32, text: &str) -> (usize, usize, Vec<f32>) {
    let scaled = font.as_scaled(PxScale::from(size));
    let margin = size / 2.0;
    let baseline = margin + scaled.ascent();
    let mut glyphs = Vec::new();
    let mut caret = margin;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = previous {
            caret += scaled.kern(prev, id);
        }
        glyphs.push(id.with_scale_and_position(size, point(caret, baseline)));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    let width = (caret + margin).ceil().max(1.0) as usize;
    let height = (baseline - scaled.descent() + margin).ceil().max(1.0) as usize;
    let mut coverage = vec![0.0f32; width * height];
    for glyph in glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // a space
        };
        let bounds = outline.px_bounds();
        outline.draw(|x, y, c| {
            let px = bounds.min.x as i64 + i64::from(x);
            let py = bounds.min.y as i64 + i64::from(y);
            if let (Ok(px), Ok(py)) = (usize::try_from(px), usize::try_from(py))
                && px < width
                && py < height
            {
                let cell = &mut coverage[py * width + px];
                *cell = (*cell + c).min(1.0);
            }
        });
    }
    (width, height, coverage)
}

/// Gray pixels: the coverage turned by `style.angle` about the centre (bilinear), ink on
/// paper, plus uniform noise.
fn paint(
    coverage: &[f32],
    width: usize,
    height: usize,
    style: &Style,
    rng: &mut impl RngCore,
) -> Vec<u8> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let (sin, cos) = style.angle.sin_cos();
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            // Inverse rotation: where this output pixel comes from.
            let sx = cos * dx + sin * dy + cx - 0.5;
            let sy = -sin * dx + cos * dy + cy - 0.5;
            let c = bilinear(coverage, width, height, sx, sy);
            let shade = style.paper + (style.ink - style.paper) * c;
            let noise = rng.gen_range(-style.noise..=style.noise) as f32;
            pixels.push((shade + noise).round().clamp(0.0, 255.0) as u8);
        }
    }
    pixels
}

/// The coverage at `(x, y)` between pixel centres (0 outside the image).
fn bilinear(coverage: &[f32], width: usize, height: usize, x: f32, y: f32) -> f32 {
    let at = |x: f32, y: f32| -> f32 {
        if x < 0.0 || y < 0.0 || x >= width as f32 || y >= height as f32 {
            return 0.0;
        }
        coverage
            .get(y as usize * width + x as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// 8-bit grayscale PNG of `pixels`.
fn encode_png(pixels: &[u8], width: usize, height: usize) -> Result<Vec<u8>, TaskError> {
    let render = |e: png::EncodingError| TaskError::Render(e.to_string());
    let size = |n: usize| u32::try_from(n).map_err(|_| TaskError::Render("image too large".into()));
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size(width)?, size(height)?);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(render)?;
    writer.write_image_data(pixels).map_err(render)?;
    writer.finish().map_err(render)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn challenges_are_grayscale_pngs_of_their_words() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..4 {
            let (png, truth) = challenge(&mut rng).expect("DejaVu fonts are installed");
            let words: Vec<_> = truth.split(' ').collect();
            assert!((2..=4).contains(&words.len()), "{truth}");
            assert!(words.iter().all(|w| words::is_word(w)));
            let decoder = png::Decoder::new(png.as_slice());
            let reader = decoder.read_info().expect("a valid PNG");
            let info = reader.info();
            assert_eq!(info.color_type, png::ColorType::Grayscale);
            assert!(info.width > info.height && info.height >= 40, "{info:?}");
        }
    }

    #[test]
    fn empty_text_renders_a_blank_margin() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let font = pick_font(&mut rng).expect("DejaVu fonts are installed");
        let (w, h, coverage) = rasterise(&font, 30.0, "");
        assert_eq!(w, 30);
        assert!(h > 30);
        assert!(coverage.iter().all(|c| *c == 0.0));
    }
}
