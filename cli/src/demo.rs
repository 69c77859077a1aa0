//! `carnet demo`: a walk through what Carnet does today, on sample data, in a temporary
//! directory (or `--data-dir`), touching nothing else.

use std::process::ExitCode;
use std::sync::Arc;

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
const COMING: [&str; 5] = [
    "health certificates: EU DCC wallet and offline verifier",
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

    println!("\n4. Noticing a clock set back (the phone's date changed to pass off an old pass)");
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
