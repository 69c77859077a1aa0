//! What an outside tester tried on the release binary: endless and lying inputs, closed
//! pipes, paths that are not UTF-8. Every case ends quickly, with a typed error or quietly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DSC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/dcc/bindings/co3-signer.der"
);
const HC1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/dcc/bindings/co3.hc1.txt"
);
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/dcc/testdata");

fn carnet(data: &std::path::Path, args: &[&std::ffi::OsStr]) -> Output {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{args:?} took {:?}",
        started.elapsed()
    );
    output
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn run(data: &std::path::Path, args: &[&str]) -> Output {
    let args = os(args);
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    carnet(data, &refs)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `/dev/zero` wherever a file is read: refused at the limit with the size error (exit 1),
/// in bounded memory and time, not read to exhaustion.
#[cfg(unix)]
#[test]
fn endless_inputs_are_refused_at_their_limit() {
    let data = tempfile::tempdir().unwrap();
    let windows = data.path().join("windows.json");
    std::fs::write(&windows, r#"{"exposureWindows": []}"#).unwrap();
    let windows = windows.to_str().unwrap();
    let cases: [&[&str]; 6] = [
        &["pass", "verify", "/dev/zero", "--trust", DSC],
        &["pass", "verify", HC1, "--trust", "/dev/zero"],
        &["qr", "decode", "/dev/zero"],
        &["card", "read", "/dev/zero"],
        &["exposure", "risk", "--windows", "/dev/zero"],
        &[
            "exposure",
            "risk",
            "--windows",
            windows,
            "--config",
            "/dev/zero",
        ],
    ];
    for args in cases {
        let output = run(data.path(), args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("/dev/zero: the ")
                && stderr(&output).contains("[input.too_large]"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// A FIFO fed without end gets the same size error as a large file.
#[cfg(unix)]
#[test]
fn a_fifo_that_never_ends_is_refused_like_a_large_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("endless");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let block = vec![b'A'; 64 * 1024];
            // Ends when the reader closes its side (EPIPE).
            while pipe.write_all(&block).is_ok() {}
        })
    };
    let output = run(
        dir.path(),
        &["pass", "verify", HC1, "--trust", fifo.to_str().unwrap()],
    );
    feeder.join().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("[input.too_large]"),
        "{}",
        stderr(&output)
    );
}

/// A reader that closes the pipe early (`| head -1`) ends the command quietly: no panic, no
/// "Broken pipe", exit 0.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["pass", "conformance", TESTDATA])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    // The reading side is closed here, with hundreds of lines still to print.
    let output = child.wait_with_output().unwrap();
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("Broken pipe"),
        "{}",
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Paths that are not UTF-8 are files like any other.
#[cfg(unix)]
#[test]
fn paths_that_are_not_utf8_are_accepted() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"certificat-\xe9t\xe9.txt");
    let certificate = dir.path().join(name);
    std::fs::copy(HC1, &certificate).unwrap();
    let signer = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"sign\xe9.der"));
    std::fs::copy(DSC, &signer).unwrap();
    let output = carnet(
        dir.path(),
        &[
            "pass".as_ref(),
            "verify".as_ref(),
            certificate.as_os_str(),
            "--trust".as_ref(),
            signer.as_os_str(),
            "--at".as_ref(),
            "2021-05-04T00:00:00Z".as_ref(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let decoded = carnet(
        dir.path(),
        &["wallet".as_ref(), "add".as_ref(), certificate.as_os_str()],
    );
    // No record here: a usage error naming `record init`, not a path error.
    assert_eq!(decoded.status.code(), Some(2), "{}", stderr(&decoded));
}

/// Messages are sentences with a code, never Rust's debug form.
#[test]
fn errors_read_as_sentences_not_debug_text() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.der");
    let der = std::fs::read(DSC).unwrap();
    std::fs::write(&truncated, &der[..der.len() / 2]).unwrap();
    // A certificate whose CBOR ends in the middle of an item (ciborium's "Io(UnexpectedEof)").
    let cut_cbor = format!(
        "HC1:{}",
        carnet::codec::base45::encode(&carnet::codec::zlib::deflate(&[0xd2, 0x84, 0x43]))
    );
    let outputs = [
        run(
            dir.path(),
            &[
                "pass",
                "verify",
                HC1,
                "--trust",
                truncated.to_str().unwrap(),
            ],
        ),
        run(dir.path(), &["pass", "verify", &cut_cbor, "--trust", DSC]),
        run(
            dir.path(),
            &["pass", "verify", "/nonexistent", "--trust", DSC],
        ),
    ];
    for output in outputs {
        let message = String::from_utf8_lossy(&output.stdout).into_owned() + &stderr(&output);
        assert!(!message.is_empty());
        for debug in [
            "Error {",
            "kind:",
            "UnexpectedTag",
            "Io(",
            "Der(",
            "Semantic(",
            "Syntax(",
        ] {
            assert!(!message.contains(debug), "{message}");
        }
        assert!(message.contains(" ["), "no code in: {message}");
    }
}

/// A small tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct SmallDisk {
    mount_point: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it), or `None` where the machine
    /// does not allow it (not root, no `mount`, in a container without the capability).
    fn mount(size: &str) -> Option<SmallDisk> {
        let mount_point = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(SmallDisk { mount_point })
    }

    fn path(&self) -> &std::path::Path {
        self.mount_point.path()
    }

    /// Writes a filler file until the disk refuses more.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(error) = filler.write_all(&chunk) {
                assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{error}");
                break;
            }
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.mount_point.path()).status();
    }
}

/// The data directory on a disk that is full: the record is still read, listed, shown and
/// exported elsewhere; what needs space (a new document, an export onto that disk) is refused
/// as `storage.full`, leaves nothing half-written, and changes nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_still_lets_the_record_be_read() {
    let Some(disk) = SmallDisk::mount("4m") else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    };
    let data = disk.path().join("data");
    let elsewhere = tempfile::tempdir().unwrap();
    let pdf = elsewhere.path().join("bilan.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\nBilan sanguin").unwrap();
    let pdf = pdf.to_str().unwrap();
    let carnet = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_carnet"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("CARNET_PASSPHRASE", "cheval agrafe pile correcte")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let add = [
        "record",
        "add-doc",
        "--title",
        "Bilan",
        "--type-code",
        "11488-4",
        pdf,
    ];
    for args in [
        &["record", "init"][..],
        &add,
        &[
            "record",
            "agenda",
            "add",
            "--title",
            "Cardiologue",
            "--start",
            "2030-01-07T09:00:00+01:00",
        ],
    ] {
        let output = carnet(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    disk.fill();

    let listed = carnet(&["record", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("Bilan"));
    let agenda = carnet(&["record", "agenda"]);
    assert!(agenda.status.success(), "{}", stderr(&agenda));
    assert!(String::from_utf8_lossy(&agenda.stdout).contains("Cardiologue"));
    let outside = elsewhere.path().join("export.zip");
    let exported = carnet(&["record", "export", "--out", outside.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(std::fs::metadata(&outside).unwrap().len() > 0);

    let onto_full = disk.path().join("export.zip");
    let refused = [
        carnet(&["record", "export", "--out", onto_full.to_str().unwrap()]),
        carnet(&add),
    ];
    for output in refused {
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("[storage.full]"), "{message}");
        for debug in ["ZipWriter", "Os {", "kind:", "StorageFull"] {
            assert!(!message.contains(debug), "{message}");
        }
    }
    let mut left: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["data", "filler"], "no half-written export left");

    // With room again, the record is as it was, and takes the document.
    disk.free();
    let count = || {
        let output = carnet(&["record", "list", "--json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(), 1, "the refused document was not half added");
    assert!(carnet(&add).status.success());
    assert_eq!(count(), 2);
}
