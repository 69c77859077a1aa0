//! `carnet qr …`: decode a QR image, render text as a QR code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use carnet::codec::{CodecError, qr};
use clap::Subcommand;

use crate::session::SessionError;

/// Pixels per module of rendered PNGs, unless told otherwise.
pub const DEFAULT_SCALE: u32 = 6;

/// `carnet qr …`
#[derive(Debug, Subcommand)]
pub enum QrCommand {
    /// Print the text of the QR code in a PNG or JPEG image; exit 1 when no code is found.
    Decode {
        /// The image file.
        image: PathBuf,
    },
    /// Render text as a QR code (error correction level Q) to a PNG or SVG file.
    Encode {
        /// The text to encode.
        text: String,
        /// Write a PNG image here.
        #[arg(long, value_name = "FILE", required_unless_present = "svg")]
        png: Option<PathBuf>,
        /// Write an SVG image here.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Pixels per module in the PNG.
        #[arg(long, default_value_t = DEFAULT_SCALE)]
        scale: u32,
    },
}

/// Runs `carnet qr …`.
pub fn run(command: QrCommand) -> Result<ExitCode, SessionError> {
    match command {
        QrCommand::Decode { image } => {
            let bytes = crate::input::read(&image, qr::MAX_FILE_BYTES, "image file")?;
            match qr::scan_image_file(&bytes) {
                Ok(text) => {
                    outln!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(CodecError::NoQrCode) => {
                    errln!("no QR code found in {}", image.display());
                    Ok(ExitCode::from(crate::exit::Exit::Refused))
                }
                Err(error) => Err(crate::input::file_error(&image, error)),
            }
        }
        QrCommand::Encode {
            text,
            png,
            svg,
            scale,
        } => {
            write_images(&text, png.as_deref(), svg.as_deref(), scale, |e| {
                SessionError::Usage(e.to_string())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Renders `text` as a QR code to a PNG (`scale` pixels per module) and/or an SVG file;
/// `rendering_error` says how a text that cannot be rendered is reported.
pub fn write_images(
    text: &str,
    png: Option<&Path>,
    svg: Option<&Path>,
    scale: u32,
    rendering_error: impl Fn(CodecError) -> SessionError,
) -> Result<(), SessionError> {
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes)
            .map_err(|e| SessionError::Io(format!("{}: {e}", path.display())))
    };
    if let Some(path) = png {
        write(
            path,
            &qr::render_png(text, scale).map_err(&rendering_error)?,
        )?;
    }
    if let Some(path) = svg {
        write(
            path,
            qr::render_svg(text).map_err(&rendering_error)?.as_bytes(),
        )?;
    }
    Ok(())
}
