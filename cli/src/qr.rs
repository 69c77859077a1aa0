//! `carnet qr …`: decode a QR image, render text as a QR code.

use std::path::PathBuf;
use std::process::ExitCode;

use carnet::codec::{CodecError, qr};
use clap::Subcommand;

use crate::session::SessionError;
use crate::verify::read_file;

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
        /// The text.
        text: String,
        /// Write a PNG image here.
        #[arg(long, value_name = "FILE", required_unless_present = "svg")]
        png: Option<PathBuf>,
        /// Write an SVG image here.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Pixels per module in the PNG.
        #[arg(long, default_value_t = 6)]
        scale: u32,
    },
}

/// Runs `carnet qr …`.
pub fn run(command: QrCommand) -> Result<ExitCode, SessionError> {
    match command {
        QrCommand::Decode { image } => {
            let bytes = read_file(&image, qr::MAX_FILE_BYTES as u64)?;
            match qr::scan_image_file(&bytes) {
                Ok(text) => {
                    println!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(CodecError::NoQrCode) => {
                    eprintln!("no QR code found in {}", image.display());
                    Ok(ExitCode::from(crate::EXIT_REFUSED))
                }
                Err(error) => Err(SessionError::Io(format!("{}: {error}", image.display()))),
            }
        }
        QrCommand::Encode {
            text,
            png,
            svg,
            scale,
        } => {
            let rendering_error = |e: CodecError| SessionError::Usage(e.to_string());
            let write = |path: &PathBuf, bytes: &[u8]| {
                std::fs::write(path, bytes)
                    .map_err(|e| SessionError::Io(format!("{}: {e}", path.display())))
            };
            if let Some(path) = &png {
                write(
                    path,
                    &qr::render_png(&text, scale).map_err(rendering_error)?,
                )?;
            }
            if let Some(path) = &svg {
                write(
                    path,
                    qr::render_svg(&text).map_err(rendering_error)?.as_bytes(),
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
