//! `carnet demo`: a walk through what Carnet does today, on sample data, in a temporary
//! directory (or `--data-dir`), touching nothing else.

use std::process::ExitCode;
use std::sync::Arc;

use carnet::certs::instant;
use carnet::certs::verifier::{self, Verdict};
use carnet::{Clock, ClockStatus, InsInput, InsKind, SystemClock};

use crate::identity::describe_ins;
use crate::session::{self, Options, SessionError};

/// Published NIR examples, and one of them with a typo in the key, a missing digit and a
/// Corsican code that does not exist.
const SAMPLE_NIRS: [&str; 6] = [
    "253072B07300470",
    "295109912611193",
    "2 06 12 75 111 005 64",
    "253072B07300471",
    "29510991261119",
    "253072C07300470",
];

/// What the core will do once each open issue lands.
const COMING: [&str; 4] = [
    "encrypted health record (Mon espace santé, offline)",
    "reference server and offline-first sync",
    "ApCV: the carte Vitale on the phone, and the pharmacy's reader",
    "Bluetooth exposure notification",
];

/// A clock running behind the system clock, to show the clock guard at work.
struct LaggingClock {
    behind_millis: i64,
}

impl Clock for LaggingClock {
    fn now_unix_millis(&self) -> i64 {
        SystemClock.now_unix_millis() - self.behind_millis
    }
}

/// Runs the demo.
pub fn run(options: &Options) -> Result<ExitCode, SessionError> {
    let temporary = match &options.data_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("carnet-demo-")
                .tempdir()
                .map_err(|e| {
                    SessionError::Core(carnet::PlatformError::Unavailable(e.to_string()).into())
                })?,
        ),
    };
    let dir = match (&temporary, &options.data_dir) {
        (Some(temporary), _) => temporary.path().to_path_buf(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => return Err(SessionError::NoDataDir),
    };

    println!("Carnet {} — demo", carnet::VERSION);
    println!(
        "Local data in {} (file key vault, owner-only permissions).\n",
        dir.display()
    );

    println!("1. Opening the core with the desktop platform services");
    let carnet = session::open_at(options, dir.clone(), Arc::new(SystemClock))?;
    println!("   clock: {}", describe_clock(carnet.check_clock()?));

    println!("\n2. Checking NIRs (social security numbers)");
    for sample in SAMPLE_NIRS {
        match carnet.check_nir(sample) {
            Ok(nir) => println!(
                "   ✓ {sample:<24} valid, shown in logs as {}",
                nir.redacted()
            ),
            Err(error) => println!("   ✗ {sample:<24} {error} [{}]", error.code()),
        }
    }

    println!("\n3. Checking an INS (national health identifier) against its matricule");
    let ins = InsInput {
        matricule: "253072B07300470".into(),
        oid: InsKind::Nir.oid().into(),
        birth_name: "DUPONT".into(),
        birth_given_names: "MARIE ANNE".into(),
        sex: "F".into(),
        birth_date: "1953-07-14".into(),
        birth_place: "2B073".into(),
    };
    match carnet.check_ins(&ins) {
        Ok(ins) => println!("   ✓ {}", describe_ins(&ins)),
        Err(error) => println!("   ✗ {error}"),
    }
    let male = InsInput {
        sex: "M".into(),
        ..ins
    };
    match carnet.check_ins(&male) {
        Ok(_) => println!("   ✗ a man with a NIR starting with 2 was accepted"),
        Err(error) => println!(
            "   ✓ same traits with sex M refused: {error} [{}]",
            error.code()
        ),
    }

    println!(
        "\n4. A health certificate (EU DCC test vector CO3), checked offline as venue staff would"
    );
    show_certificate(&carnet)?;

    println!("\n5. Noticing a clock set back (the phone's date changed to pass off an old pass)");
    let lagging = Arc::new(LaggingClock {
        behind_millis: 3_600_000,
    });
    let reopened = session::open_at(options, dir, lagging)?;
    println!(
        "   clock one hour behind: {}",
        describe_clock(reopened.check_clock()?)
    );

    println!("\nComing next, one issue each:");
    for item in COMING {
        println!("   · {item}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The sample certificate and its signer, embedded so that the demo runs from anywhere.
const SAMPLE_CERTIFICATE: &str = include_str!("../../fixtures/dcc/bindings/co3.hc1.txt");
const SAMPLE_SIGNER: &[u8] = include_bytes!("../../fixtures/dcc/bindings/co3-signer.der");
/// 2021-05-04T00:00:00Z, when the sample certificate was in force.
const SAMPLE_IN_FORCE: i64 = 1_620_086_400;

/// Verifies the sample certificate then and now, a tampered copy, and keeps it in the wallet.
fn show_certificate(carnet: &carnet::Carnet) -> Result<(), SessionError> {
    let text = SAMPLE_CERTIFICATE.trim();
    let lists = carnet::VerifierLists::trusting_certificate(SAMPLE_SIGNER, SAMPLE_IN_FORCE)?;
    let verdict_at = |text: &str, at: i64| match verifier::verify(
        text,
        &lists.trust,
        lists.revocation.as_ref(),
        at,
        &lists.policy,
    ) {
        Verdict::Valid {
            holder,
            cert_type,
            expires_at,
        } => format!(
            "VALID: {} certificate for {} {} (born {}), until {}",
            cert_type.name(),
            holder.family_name,
            holder.given_name,
            holder.birth_date,
            instant::format(expires_at)
        ),
        Verdict::Invalid { reason, .. } => {
            format!(
                "INVALID: {reason} [{}]",
                carnet::CarnetError::from(reason.clone()).code()
            )
        }
        Verdict::CannotConfirm { reason, .. } => format!("CANNOT CONFIRM: {reason}"),
    };
    let now = SystemClock.now_unix_millis().div_euclid(1000);
    println!(
        "   on {}: {}",
        instant::format(SAMPLE_IN_FORCE),
        verdict_at(text, SAMPLE_IN_FORCE)
    );
    println!("   today: {}", verdict_at(text, now));
    println!(
        "   signature altered by one bit: {}",
        verdict_at(&forged(text)?, SAMPLE_IN_FORCE)
    );
    let entry = carnet.wallet_add(text)?;
    let svg = carnet.render_qr_svg(text)?;
    println!(
        "   kept in the wallet as #{} ({} today); its QR code rendered again: {} bytes of SVG",
        entry.id,
        carnet.wallet_state(&entry).name(),
        svg.len()
    );
    Ok(())
}

/// The certificate with one bit of its signature flipped, packed again as `HC1:` text.
fn forged(text: &str) -> Result<String, SessionError> {
    use carnet::certs::hcert;
    use carnet::codec::{base45, zlib};
    let unpack = || hcert::decompress(&hcert::decode_base45(hcert::unprefix(text)?)?);
    let mut cose = unpack().map_err(carnet::CarnetError::from)?;
    if let Some(last) = cose.last_mut() {
        *last ^= 0x01;
    }
    Ok(format!(
        "{}{}",
        hcert::PREFIX,
        base45::encode(&zlib::deflate(&cose))
    ))
}

fn describe_clock(status: ClockStatus) -> String {
    match status {
        ClockStatus::Consistent => "consistent with the latest time seen".to_owned(),
        ClockStatus::MovedBackwards { behind_by_millis } => {
            format!(
                "moved backwards by {} s: time-dependent checks would not be trusted",
                (behind_by_millis + 500) / 1000
            )
        }
    }
}
