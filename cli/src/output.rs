//! Everything the command prints goes through here: [`outln!`] for standard output, [`errln!`]
//! and [`errout!`] for standard error.
//!
//! Two rules hold for every line, whichever command prints it:
//! * **Text from outside is shown safely.** Reader names, purposes, certificate names,
//!   document titles, message bodies, server messages: another party wrote them, and a control
//!   character in them (`ESC[8m` hides what follows on a terminal, `CR` overwrites a line, a
//!   bidirectional override reorders it) would let them rewrite what the person sees. Every
//!   control character but the newline and the tab is written as a visible escape (`\u{1b}`).
//! * **A closed pipe ends the command quietly.** `carnet record list | head -1` closes standard
//!   output early: the command stops there with exit code 0 instead of panicking.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

/// Prints a line on standard output, control characters escaped.
macro_rules! outln {
    () => { $crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints a line on standard error, control characters escaped.
macro_rules! errln {
    () => { $crate::output::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints on standard error without a newline, control characters escaped.
macro_rules! errout {
    ($($arg:tt)*) => { $crate::output::write_stderr(format_args!($($arg)*)) };
}

/// Writes to standard output; a closed pipe exits the process quietly with code 0 (the reader
/// has what it wanted), any other failure is reported once on standard error and exits 3.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut stdout = std::io::stdout().lock();
    // Standard output is line-buffered: a line's write reaches the pipe, and its error here.
    if let Err(error) = stdout.write_all(escape_controls(&text).as_bytes()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            std::io::stderr(),
            "carnet: cannot write the output: {error}"
        );
        std::process::exit(i32::from(u8::from(crate::exit::Exit::Failed)));
    }
}

/// Writes to standard error; a failure there has nowhere to be reported and is ignored.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let _ = std::io::stderr().write_all(escape_controls(&text).as_bytes());
}

/// `text` with every control character but `\n` and `\t` written as `\u{…}`: C0 and C1
/// controls, DEL, and the bidirectional formatting characters (U+200E–200F, U+202A–202E,
/// U+2066–2069) that reorder what follows them.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// A Unix-milliseconds instant as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn date_time(millis: i64) -> String {
    let text = carnet::certs::instant::format(millis.div_euclid(1000));
    text.get(..16).map(|t| t.replace('T', " ")).unwrap_or(text)
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            escape_controls("Pharmacie\u{1b}[8m hidden\r\u{7}"),
            "Pharmacie\\u{1b}[8m hidden\\u{d}\\u{7}"
        );
        assert_eq!(escape_controls("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(escape_controls("\u{9b}31m"), "\\u{9b}31m");
        // Newlines, tabs, accents and the QR's block characters pass as they are.
        let plain = "Élodie\tDUPONT\n▀▄█";
        assert!(matches!(escape_controls(plain), std::borrow::Cow::Borrowed(p) if p == plain));
    }
}
