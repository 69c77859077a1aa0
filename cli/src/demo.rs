//! `carnet demo`: a walk through what Carnet does today, on sample data, in a temporary
//! directory (or `--data-dir`), touching nothing else.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use carnet::certs::instant;
use carnet::certs::verifier::{self, Verdict};
use carnet::wire::health_space as wire;
use carnet::{Clock, ClockStatus, InsInput, InsKind, ManualClock, SystemClock};

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
const COMING: [&str; 1] = ["ApCV and exposure notification in the Android and iOS shells"];

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

    outln!("Carnet {} — demo", carnet::VERSION);
    outln!(
        "Local data in {} (file key vault, owner-only permissions).\n",
        dir.display()
    );

    outln!("1. Opening the core with the desktop platform services");
    let carnet = session::open_at(options, dir.clone(), Arc::new(SystemClock))?;
    outln!("   clock: {}", describe_clock(carnet.check_clock()?));

    outln!("\n2. Checking NIRs (social security numbers)");
    for sample in SAMPLE_NIRS {
        match carnet.check_nir(sample) {
            Ok(nir) => outln!(
                "   ✓ {sample:<24} valid, shown in logs as {}",
                nir.redacted()
            ),
            Err(error) => outln!("   ✗ {sample:<24} {error} [{}]", error.code()),
        }
    }

    outln!("\n3. Checking an INS (national health identifier) against its matricule");
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
        Ok(ins) => outln!("   ✓ {}", describe_ins(&ins)),
        Err(error) => outln!("   ✗ {error}"),
    }
    let male = InsInput {
        sex: "M".into(),
        ..ins
    };
    match carnet.check_ins(&male) {
        Ok(_) => outln!("   ✗ a man with a NIR starting with 2 was accepted"),
        Err(error) => outln!(
            "   ✓ same traits with sex M refused: {error} [{}]",
            error.code()
        ),
    }

    outln!("\n4. The encrypted health record (Mon espace santé, offline)");
    let record = Arc::new(show_record(&carnet, &dir)?);

    outln!(
        "\n5. Syncing with the health space (the reference server, started in this process on \
         loopback)"
    );
    // A French document signer, whose certificate the national services list as trusted.
    let signer = demo_signer(&dir)?;
    let (server, url) = show_sync(&carnet, &record, &dir)?;

    outln!("\n6. The carte Vitale on the phone (ApCV), shown at a pharmacy");
    let shown = show_card(&carnet, &record, &url, server.professional_key());
    let exposure = shown.and_then(|()| {
        outln!("\n7. Bluetooth exposure notification (no one learns who met whom)");
        show_exposure(
            options,
            &dir.join("exposure"),
            &url,
            server.professional_key(),
        )
    });
    let venue = exposure.and_then(|()| {
        outln!(
            "\n8. At a venue in France: the lists and France's business rules from the national \
             services, then certificates judged offline by them"
        );
        show_venue(&carnet, &url, &dir, &signer)
    });
    server
        .stop()
        .map_err(|e| SessionError::Io(format!("server: {e}")))?;
    venue?;

    outln!(
        "\n9. A health certificate (EU DCC test vector CO3), checked offline as venue staff would"
    );
    show_certificate(&carnet, &record)?;
    drop(record);

    outln!("\n10. Noticing a clock set back (the phone's date changed to pass off an old pass)");
    let lagging = Arc::new(LaggingClock {
        behind_millis: 3_600_000,
    });
    let reopened = session::open_at(options, dir, lagging)?;
    outln!(
        "   clock one hour behind: {}",
        describe_clock(reopened.check_clock()?)
    );

    outln!("\nComing next, one issue each:");
    for item in COMING {
        outln!("   · {item}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A French document signer valid for a year around now, its certificate placed where the
/// reference server reads the trust list from.
fn demo_signer(dir: &Path) -> Result<carnet::certs::issuer::TestIssuer, SessionError> {
    let now = SystemClock.now_unix_millis().div_euclid(1000);
    let signer = carnet::certs::issuer::TestIssuer::new("FR", now - 180 * DAY, now + 365 * DAY)
        .map_err(carnet::CarnetError::from)?;
    let signers = dir.join("server").join("lists").join("dsc");
    std::fs::create_dir_all(&signers)
        .and_then(|()| std::fs::write(signers.join("FR_demo-signer.der"), signer.certificate_der()))
        .map_err(|e| SessionError::Io(format!("{}: {e}", signers.display())))?;
    Ok(signer)
}

const DAY: i64 = 86_400;

/// `lists update` against the running server, then certificates judged for France.
fn show_venue(
    carnet: &carnet::Carnet,
    url: &str,
    dir: &Path,
    signer: &carnet::certs::issuer::TestIssuer,
) -> Result<(), SessionError> {
    use carnet::certs::country_rules::window;
    let anchor = carnet_server::list_anchor(&dir.join("server"))
        .map_err(|e| SessionError::Io(format!("server: {e}")))?;
    let services = carnet.national_services(url, &[])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let update = runtime.block_on(services.update_lists(&anchor))?;
    let lists = update.lists;
    let rules = lists.rules.as_ref().map_or(0, |l| l.rules().len());
    outln!(
        "   kept for offline use: trust list ({} signer{}), revocation list, {rules} business \
         rules of {} countries, value sets",
        lists.trust.store().len(),
        if lists.trust.store().len() == 1 {
            ""
        } else {
            "s"
        },
        lists
            .rules
            .as_ref()
            .map(|l| {
                let mut countries: Vec<&str> =
                    l.rules().iter().map(|r| r.country.as_str()).collect();
                countries.sort_unstable();
                countries.dedup();
                countries.len()
            })
            .unwrap_or_default()
    );
    let now = SystemClock.now_unix_millis().div_euclid(1000);
    let day = |secs: i64| {
        instant::format(secs)
            .get(..10)
            .unwrap_or_default()
            .to_owned()
    };
    let person =
        serde_json::json!({"fn": "Quenouille", "fnt": "QUENOUILLE", "gn": "Lucie", "gnt": "LUCIE"});
    let test = |sampled: i64| {
        serde_json::json!({"ver": "1.3.0", "nam": person, "dob": "1990-04-12", "t": [{
            "tg": "840539006", "tt": "LP6464-4", "nm": "RT-PCR", "sc": instant::format(sampled),
            "tr": "260415000", "tc": "Laboratoire des Lilas", "co": "FR", "is": "CNAM",
            "ci": format!("URN:UVCI:01:FR:DEMO{sampled}T")}]})
    };
    let dose = |number: u32, injected: i64| {
        serde_json::json!({"ver": "1.3.0", "nam": person, "dob": "1990-04-12", "v": [{
            "tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
            "dn": number, "sd": 2, "dt": day(injected), "co": "FR", "is": "CNAM",
            "ci": format!("URN:UVCI:01:FR:DEMO{injected}V{number}")}]})
    };
    let cases = [
        (
            "a negative PCR test sampled 3 weeks ago",
            test(now - 21 * DAY),
        ),
        (
            "the first of two doses, a month ago",
            dose(1, now - 30 * DAY),
        ),
        (
            "a negative PCR test sampled 2 hours ago",
            test(now - 2 * 3600),
        ),
        (
            "the second of two doses, 2 days ago",
            dose(2, now - 2 * DAY),
        ),
    ];
    for (what, payload) in cases {
        let text = signer
            .issue(&payload, now - 3600, now + 300 * DAY)
            .map_err(carnet::CarnetError::from)?;
        let verdict = carnet.verify_pass_in(&text, &lists, Some("FR"))?;
        outln!("   {what}: {}", describe_french_verdict(&verdict));
        let decoded = carnet::certs::hcert::decode(&text).map_err(carnet::CarnetError::from)?;
        if let Some(rules) = &lists.rules {
            let period = window(rules.rules(), &lists.value_sets, "FR", &decoded.claims, now);
            match (period.from, period.until) {
                (Some(from), Some(until)) => outln!(
                    "      in the wallet: meets France's rules from {} until {}",
                    instant::format(from),
                    instant::format(until)
                ),
                (None, Some(until)) if matches!(verdict, Verdict::Valid { .. }) => outln!(
                    "      in the wallet: meets France's rules until {}",
                    instant::format(until)
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

/// A verdict as a French venue's staff read it: failed rules in French.
fn describe_french_verdict(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Valid { cert_type, .. } => format!("VALID for France ({})", cert_type.name()),
        Verdict::Invalid {
            reason: carnet::certs::CertsError::RulesNotMet { failures, .. },
            ..
        } => format!(
            "INVALID for France — {}",
            failures
                .iter()
                .map(|f| format!("{} : « {} »", f.identifier, f.description("fr")))
                .collect::<Vec<_>>()
                .join(" ; ")
        ),
        Verdict::Invalid { reason, .. } => format!("INVALID: {reason}"),
        Verdict::CannotConfirm { reason, .. } => format!("CANNOT CONFIRM: {reason}"),
    }
}

/// The sample certificate and its signer, embedded so that the demo runs from anywhere.
const SAMPLE_CERTIFICATE: &str = include_str!("../../fixtures/dcc/bindings/co3.hc1.txt");
const SAMPLE_SIGNER: &[u8] = include_bytes!("../../fixtures/dcc/bindings/co3-signer.der");
/// 2021-05-04T00:00:00Z, when the sample certificate was in force.
const SAMPLE_IN_FORCE: i64 = 1_620_086_400;

/// Verifies the sample certificate then and now, a tampered copy, and keeps it in the wallet.
fn show_certificate(
    carnet: &carnet::Carnet,
    record: &carnet::HealthRecord,
) -> Result<(), SessionError> {
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
    outln!(
        "   on {}: {}",
        instant::format(SAMPLE_IN_FORCE),
        verdict_at(text, SAMPLE_IN_FORCE)
    );
    outln!("   today: {}", verdict_at(text, now));
    outln!(
        "   signature altered by one bit: {}",
        verdict_at(&forged(text)?, SAMPLE_IN_FORCE)
    );
    let entry = record.wallet_add(text)?;
    let svg = carnet.render_qr_svg(text)?;
    let names: Vec<&str> = entry.summary.details.iter().map(|d| d.shown()).collect();
    outln!(
        "   kept in the wallet, inside the encrypted record, as {} {} ({} today); its QR code \
         rendered again: {} bytes of SVG",
        entry.summary.cert_type.name(),
        names.join(", "),
        record.wallet_state(&entry).name(),
        svg.len()
    );
    Ok(())
}

/// The demo record's passphrase (a real one is asked for, or read from the environment).
const DEMO_PASSPHRASE: &str = "démo : cheval agrafe pile correcte";
/// The demo patient's name, looked for in clear in the store's files.
const DEMO_FAMILY_NAME: &str = "Quenouille";

/// Creates a record, fills it, shows what it computes, proves nothing is in clear, and
/// round-trips it through an export.
fn show_record(carnet: &carnet::Carnet, dir: &Path) -> Result<carnet::HealthRecord, SessionError> {
    use carnet::record::{
        DocumentSource, Gender, IncomingAttachment, MeasureKind, NewDocument, NewMessage,
        NewProfileItem, Patient, Professional, ProfileKind,
    };
    let unlock = carnet::RecordUnlock::Passphrase {
        passphrase: DEMO_PASSPHRASE.into(),
    };
    let store = dir.join("record");
    let record = carnet.create_record(&store, &unlock)?;
    outln!(
        "   created in {} (AES-256-GCM, key wrapped with Argon2id)",
        store.display()
    );
    let doctor = Professional {
        name: "Dr Marie Curie".into(),
        rpps: Some("10003456789".into()),
    };
    let report = format!(
        "<?xml version=\"1.0\"?><ClinicalDocument xmlns=\"urn:hl7-org:v3\">\
         <title>Bilan sanguin de Camille {DEMO_FAMILY_NAME}</title></ClinicalDocument>"
    );
    record.with_content(|r| {
        r.set_patient(&Patient {
            given: "Camille".into(),
            family: DEMO_FAMILY_NAME.into(),
            birth_date: "1975-06-01".into(),
            gender: Gender::Female,
            ins: None,
        })?;
        let new = NewDocument {
            title: "Bilan sanguin".into(),
            author: Some(doctor.clone()),
            ..Default::default()
        };
        r.add_document(&new, DocumentSource::Professional, &mut report.as_bytes())?;
        r.add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: "Arachide".into(),
                ..Default::default()
            },
        )?;
        r.add_measure(MeasureKind::BloodPressure, &[128.0, 82.0], None)?;
        let message = NewMessage {
            sender: doctor.clone(),
            subject: "Vos résultats".into(),
            body: "Résultats normaux, compte rendu joint.".into(),
            reply_allowed: true,
        };
        let attachment = IncomingAttachment {
            name: "bilan.xml".into(),
            content: &mut report.as_bytes(),
        };
        r.deliver_message(&message, vec![attachment])?;
        Ok(())
    })?;
    let agenda = record.with_content(|r| r.agenda())?;
    outln!(
        "   a document, an allergy, a blood pressure, a message with an attachment; {} \
         prevention reminders computed for a woman born in 1975, e.g. {}",
        agenda.reminders.len(),
        agenda
            .reminders
            .first()
            .map(|r| r.label.as_str())
            .unwrap_or("none")
    );
    let mut clear = Vec::new();
    for entry in std::fs::read_dir(&store).map_err(|e| SessionError::Io(e.to_string()))? {
        let path = entry.map_err(|e| SessionError::Io(e.to_string()))?.path();
        let bytes = std::fs::read(&path).map_err(|e| SessionError::Io(e.to_string()))?;
        if bytes
            .windows(DEMO_FAMILY_NAME.len())
            .any(|w| w == DEMO_FAMILY_NAME.as_bytes())
        {
            clear.push(path.display().to_string());
        }
    }
    match clear.as_slice() {
        [] => outln!(
            "   the name {DEMO_FAMILY_NAME:?} appears in none of the store's files (database, WAL, keys)"
        ),
        found => outln!("   ✗ the name appears in clear in {}", found.join(", ")),
    }
    let export = dir.join("export.zip");
    let file = std::fs::File::create(&export).map_err(|e| SessionError::Io(e.to_string()))?;
    record.with_content(|r| r.export(file, &mut |_| {}))?;
    let copy = carnet.create_record(&dir.join("record-copy"), &unlock)?;
    let archive = std::fs::File::open(&export).map_err(|e| SessionError::Io(e.to_string()))?;
    copy.with_content(|r| r.import(std::io::BufReader::new(archive), &mut |_| {}))?;
    let same = copy.with_content(|r| {
        Ok((
            r.documents()?.len(),
            r.profile(None)?.len(),
            r.messages()?.len(),
        ))
    })?;
    outln!(
        "   exported as a FHIR R4 Bundle + files ({}), imported into a new record: {} document, \
         {} profile entries, {} message",
        export.display(),
        same.0,
        same.1,
        same.2
    );
    drop(copy);
    match carnet.open_record(
        &dir.join("record-copy"),
        &carnet::RecordUnlock::Passphrase {
            passphrase: "une autre phrase".into(),
        },
    ) {
        Err(error) => outln!("   a wrong passphrase: {error} [{}]", error.code()),
        Ok(_) => outln!("   ✗ a wrong passphrase opened the record"),
    }
    Ok(record)
}

/// Starts the reference server, lets the caisse register a card the phone enrols (which opens
/// the health-space account), lets a hospital deposit a report and a message, syncs, edits
/// the profile with the server down, syncs again once it is back, and updates the DCC lists.
/// Returns the server, still running, and its address.
fn show_sync(
    carnet: &carnet::Carnet,
    record: &carnet::HealthRecord,
    dir: &Path,
) -> Result<(carnet_server::BackgroundServer, String), SessionError> {
    use carnet::record::{NewProfileItem, ProfileKind};
    use carnet_server::{BackgroundServer, ProfessionalClient, ServerConfig};
    let failed = |e: carnet_server::ServerError| SessionError::Io(format!("server: {e}"));
    let config = ServerConfig {
        data_dir: dir.join("server"),
        ..ServerConfig::default()
    };
    let server = BackgroundServer::spawn(config.clone()).map_err(failed)?;
    let address = server.address();
    let url = format!("http://{address}");
    outln!("   health space at {url}");
    let services = carnet.national_services(&url, &[])?;
    let hospital = ProfessionalClient::new(&url, server.professional_key());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let deposited = |e: carnet_server::DepositError| SessionError::Io(e.to_string());
    runtime.block_on(async {
        let people: Vec<carnet::identity::apcv::ApcvClaims> =
            serde_json::from_str(DEMO_FAMILY).map_err(|e| SessionError::Io(e.to_string()))?;
        let card = hospital.register_card(&people).await.map_err(deposited)?;
        let key = carnet.software_device_key()?;
        let enrolled = services
            .enrol_card(record, &card.nir, &card.activation_code, &key)
            .await?;
        let user = services.enrolled_user()?.unwrap_or_default();
        outln!(
            "   the caisse registered a family's carte Vitale and mailed an activation code; \
             the card enrolled on this device: {} people, and the health-space account",
            enrolled.len()
        );
        hospital
            .deposit_document(
                &user,
                "hopital-cr-2026-0042",
                wire::DocumentDescription {
                    title: "Compte rendu de consultation de cardiologie".into(),
                    type_code: Some(wire::Coding {
                        system: "http://loinc.org".into(),
                        code: "11488-4".into(),
                        display: Some("Consultation note".into()),
                    }),
                    author: Some(dr_curie()),
                    date: Some("2026-11-20T09:30:00Z".into()),
                    ..wire::DocumentDescription::default()
                },
                b"%PDF-1.4\n% compte rendu de consultation\n%%EOF\n",
            )
            .await
            .map_err(deposited)?;
        hospital
            .deposit_message(
                &user,
                &wire::Letter {
                    id: "hopital-msg-2026-0042".into(),
                    message: wire::Message {
                        sender: dr_curie(),
                        subject: "Votre consultation".into(),
                        body: "Le compte rendu est dans votre espace santé.".into(),
                        reply_allowed: true,
                        attachments: Vec::new(),
                    },
                },
            )
            .await
            .map_err(deposited)?;
        outln!("   the hospital deposited a consultation report and a message");
        let misaddressed = (MISADDRESSED.0, MISADDRESSED.1, MISADDRESSED.2.to_vec());
        let reports = LAB_REPORTS
            .iter()
            .map(|(id, title, cda)| (*id, *title, for_marie_dupont(cda)))
            .chain([misaddressed]);
        for (id, title, cda) in reports {
            hospital
                .deposit_document(
                    &user,
                    id,
                    wire::DocumentDescription {
                        title: title.into(),
                        ..wire::DocumentDescription::default()
                    },
                    &cda,
                )
                .await
                .map_err(deposited)?;
        }
        outln!(
            "   a laboratory deposited two CDA R2 reports for Marie Dupont (the ANS examples, \
             levels 1 and 3), and by mistake one for another patient"
        );
        let report = crate::sync::sync_with_progress(&services, record).await?;
        outln!("   sync: {}", crate::sync::describe(&report));
        Ok::<_, SessionError>(())
    })?;
    show_lab_reports(record, dir)?;

    server.stop().map_err(failed)?;
    record.with_content(|r| {
        r.add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: "Pénicilline".into(),
                ..Default::default()
            },
        )
    })?;
    match runtime.block_on(crate::sync::sync_with_progress(&services, record)) {
        Err(SessionError::Core(error)) => outln!(
            "   server stopped, an allergy added offline; sync: {error} [{}], {} change(s) kept waiting",
            error.code(),
            record.with_content(|r| r.pending_sync_count())?
        ),
        Ok(_) => outln!("   ✗ a sync with the server stopped succeeded"),
        Err(other) => return Err(other),
    }
    let server = BackgroundServer::spawn(ServerConfig {
        bind: address,
        ..config
    })
    .map_err(failed)?;
    let report = runtime.block_on(crate::sync::sync_with_progress(&services, record))?;
    outln!("   server back: {}", crate::sync::describe(&report));

    let anchor = carnet_server::list_anchor(&dir.join("server")).map_err(failed)?;
    let first = runtime.block_on(services.update_lists(&anchor))?;
    let second = runtime.block_on(services.update_lists(&anchor))?;
    outln!(
        "   DCC lists: trust list version {} downloaded and verified against the anchor the app \
         ships; asked again: {}",
        first.lists.trust.header().version,
        if second.trust_changed {
            "downloaded again (✗)"
        } else {
            "unchanged, nothing downloaded (304)"
        }
    );
    Ok((server, url))
}

/// Step 6: the card shown at a pharmacy the ISO/IEC 18013-5 way (the pharmacy's key certified
/// by the professionals' PKI, the holder's consent built from that certificate), to a reader
/// that does not authenticate, as Carnet's counter QR (the child's), and the reader's
/// refusals (a replay, another device, a lost phone), against the server still running.
fn show_card(
    carnet: &carnet::Carnet,
    record: &Arc<carnet::HealthRecord>,
    url: &str,
    professional_key: &str,
) -> Result<(), SessionError> {
    use base64::Engine;
    use carnet::{CardCheck, CardEngagement, PresentationStep};
    let services = carnet.national_services(url, &[])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let key = carnet.software_device_key()?;
    for person in record.card()? {
        outln!(
            "   on the phone, offline: {}. {} {}, AMO rights {} to {}",
            person.rank,
            person.given_names,
            person.family_name,
            person.amo_valid_from,
            person.amo_valid_until
        );
    }
    let professionals = carnet_server::ProfessionalClient::new(url, professional_key);
    let certified = runtime
        .block_on(
            professionals.certify_reader(&carnet::wire::readers::ReaderCertificateRequest {
                name: "Jeanne Martin".into(),
                organisation: "Pharmacie du Port".into(),
                identifier: "RPPS:10003456789".into(),
                profession: "21".into(),
                hosts: Vec::new(),
                public_key: base64::engine::general_purpose::STANDARD
                    .encode(carnet.reader_public_key()?),
            }),
        )
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let certificate = base64::engine::general_purpose::STANDARD
        .decode(&certified.certificate)
        .map_err(|_| SessionError::Io("the PKI's certificate is not base64".into()))?;
    let root = runtime.block_on(services.issuer_root())?;
    let mut pharmacy = carnet.card_reader(&root, Some(certificate))?;
    let status = runtime.block_on(services.issuer_status())?;
    pharmacy.update_status(&status)?;
    let verdict = |check: CardCheck| match check {
        CardCheck::Accepted { elements } => format!(
            "✓ accepted: {}",
            elements
                .iter()
                .map(|element| format!("{}={}", element.name, element.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CardCheck::Refused { code } => format!("refused: {code}"),
    };
    let today = carnet::certs::instant::format(SystemClock.now_unix_millis().div_euclid(1000));
    let today = today.get(..10).unwrap_or_default();
    let items: Vec<String> = [
        "family_name",
        "given_names",
        "nir",
        "amo_valid_from",
        "amo_valid_until",
        "ins_matricule",
    ]
    .map(str::to_owned)
    .to_vec();

    let mut presentation = record.start_presentation(CardEngagement::Qr)?;
    let engagement = presentation.qr_text();
    outln!(
        "   the phone shows its ISO/IEC 18013-5 engagement QR ({} characters); the pharmacy \
         scans it and asks, signed with its certified key",
        engagement.len()
    );
    let establishment = pharmacy.request(&engagement, &items)?;
    let PresentationStep::Asked(asked) = presentation.receive(&establishment)? else {
        return Err(SessionError::Io("the pharmacy ended the session".into()));
    };
    outln!(
        "   the phone checks it first: {} — {} ({}, {}){}",
        asked.reader.name,
        asked.reader.organisation,
        asked.reader.profession,
        asked.reader.identifier,
        if asked.reader.verified {
            ", verified"
        } else {
            ", NOT verified"
        }
    );
    let (allowed, refused): (Vec<_>, Vec<_>) = asked.elements.iter().partition(|e| e.allowed);
    let names = |list: &[&carnet::ConsentElement]| {
        list.iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    outln!(
        "   it asks {}; not for a pharmacy, never shown: {}; the holder consents",
        names(&allowed),
        names(&refused)
    );
    let approved: Vec<String> = allowed.iter().map(|e| e.name.clone()).collect();
    let answer = presentation.respond(1, &approved, &key)?;
    outln!(
        "   answer ({} bytes, encrypted in the session), read for care on {today}: {}",
        answer.len(),
        verdict(pharmacy.read(&answer, Some(today))?)
    );

    let mut anonymous = carnet.card_reader(&root, None)?;
    anonymous.update_status(&status)?;
    let mut presentation = record.start_presentation(CardEngagement::Qr)?;
    let establishment = anonymous.request(&presentation.qr_text(), &items)?;
    if let PresentationStep::Asked(asked) = presentation.receive(&establishment)? {
        let offered: Vec<_> = asked.elements.iter().filter(|e| e.allowed).collect();
        outln!(
            "   a reader with no certificate asks the same: the phone offers only {}, \
             and by default shows nothing: {}",
            names(&offered),
            verdict(anonymous.read(&presentation.decline()?, None)?)
        );
    }

    let child = record.present_counter(2, &key)?;
    outln!(
        "   the child's counter QR (Carnet's own, no request): {}",
        verdict(pharmacy.read_counter(&child, None)?)
    );
    outln!(
        "   the same QR shown again: {}",
        verdict(pharmacy.read_counter(&child, None)?)
    );
    let other_phone = carnet::SoftwareDeviceKey::load_or_create(&carnet::MemoryKeyVault::new())?;
    let copied = record.present_counter(1, &other_phone)?;
    outln!(
        "   the credential copied to another phone: {}",
        verdict(pharmacy.read_counter(&copied, None)?)
    );
    runtime
        .block_on(
            professionals.report_device_lost(
                &record
                    .card()?
                    .first()
                    .map(|p| p.nir.clone())
                    .unwrap_or_default(),
            ),
        )
        .map_err(|e| SessionError::Io(e.to_string()))?;
    pharmacy.update_status(&runtime.block_on(services.issuer_status())?)?;
    let after = record.present_counter(1, &key)?;
    outln!(
        "   the phone reported lost to the caisse, the pharmacy's status list updated: {}",
        verdict(pharmacy.read_counter(&after, None)?)
    );
    Ok(())
}

/// The doctor who writes to the demo's family.
/// The laboratory's reports of the demo: the ANS example documents of a level-1 CDA (a PDF
/// inside) and a level-3 one (a thyroid panel), with the health space's id and title.
const LAB_REPORTS: [(&str, &str, &[u8]); 2] = [
    (
        "labo-cr-2021-0104",
        "Compte rendu d'examens biologiques",
        include_bytes!("../../fixtures/cda/BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml"),
    ),
    (
        "labo-cr-2021-0401",
        "Bilan thyroïdien",
        include_bytes!("../../fixtures/cda/BIO-CR-BIO_2024.01_TSH_1.xml"),
    ),
];

/// A laboratory's report sent to the wrong health space: the ANS example as published, for
/// its fictitious patient.
const MISADDRESSED: (&str, &str, &[u8]) = (
    "labo-cr-2024-0999",
    "Compte rendu d'examens biologiques",
    include_bytes!("../../fixtures/cda/BIO-CR-BIO_2024.01_Glycémie mole.xml"),
);

/// An ANS example report as a laboratory would write it for the demo's card holder: her INS,
/// names, birth date instead of the example's fictitious patient (same sex).
fn for_marie_dupont(cda: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(cda)
        .replace("279035121518989", "253072B07300470")
        .replace("DOMINIQUE MARIE-LOUISE", "MARIE ANNE")
        .replace(">DOMINIQUE<", ">MARIE<")
        .replace("PAT-TROIS", "DUPONT")
        .replace(
            "<birthTime value=\"19790328\"/>",
            "<birthTime value=\"19530714\"/>",
        )
        .into_bytes()
}

/// The laboratory's CDA reports once synced: each header, the PDF inside the level-1 one,
/// the level-3 one as text and as a page, the one for another patient kept apart.
fn show_lab_reports(record: &carnet::HealthRecord, dir: &Path) -> Result<(), SessionError> {
    for (id, _, _) in LAB_REPORTS {
        let header = record.document_header(id)?;
        let author = header.authors.first();
        outln!(
            "   CDA {}: « {} » (LOINC {}), {} by {} (RPPS {}), {}, patient {} (INS {})",
            id,
            header.title.as_deref().unwrap_or_default(),
            header
                .type_code
                .as_ref()
                .map(|c| c.code.as_str())
                .unwrap_or("?"),
            header
                .created
                .as_ref()
                .map(|t| t.text.as_str())
                .unwrap_or("undated"),
            author
                .and_then(|a| a.name.as_ref())
                .map(carnet::cda::PersonName::full)
                .unwrap_or_default(),
            author.and_then(|a| a.rpps()).unwrap_or("?"),
            author
                .and_then(|a| a.organisation.as_deref())
                .unwrap_or_default(),
            header.patient.display_name(),
            header
                .patient
                .ins()
                .and_then(|i| i.extension.as_deref())
                .unwrap_or("?"),
        );
    }
    let (level1, _, _) = LAB_REPORTS[0];
    let pdf = dir.join("compte-rendu-biologie.pdf");
    let viewable = record.save_viewable(level1, &pdf)?;
    outln!(
        "      the level-1 report opens as its {} ({} bytes): {}",
        viewable.media_type,
        std::fs::metadata(&pdf).map(|m| m.len()).unwrap_or_default(),
        pdf.display()
    );
    let (level3, _, _) = LAB_REPORTS[1];
    let page = dir.join("bilan-thyroidien.html");
    std::fs::write(&page, record.document_html(level3)?)
        .map_err(|e| SessionError::Io(format!("{}: {e}", page.display())))?;
    outln!(
        "      the level-3 report, as a page: {}; as text:",
        page.display()
    );
    for line in record.document_text(level3)?.lines().skip(3).take(6) {
        outln!("        {line}");
    }
    let offered = record.document_findings(level3)?;
    outln!("      its coded entries, offered to the medical profile (nothing added unless asked):");
    for finding in &offered {
        outln!("        {}. {}", finding.index, finding.summary);
    }
    if let Some(first) = offered.first() {
        let added = record.add_finding_to_profile(level3, first.index)?;
        outln!(
            "      she adds result {} to her profile: a FHIR {} taken from the report ({})",
            first.index,
            added.kind.resource_type(),
            added.summary()
        );
    }
    let archive = dir.join("IHE_XDM.ZIP");
    record.export_xdm_to_path(&[level3.to_owned()], &archive)?;
    outln!(
        "      handed on for her doctor as an IHE XDM archive, as MSSanté carries it ({} bytes): {}",
        std::fs::metadata(&archive)
            .map(|m| m.len())
            .unwrap_or_default(),
        archive.display()
    );
    let listed = record.with_content(|r| r.documents())?;
    for apart in record.with_content(|r| r.documents_apart())? {
        if let carnet::record::Addressee::NotForThisPerson { reason } = &apart.addressee {
            outln!(
                "   identity vigilance: « {} » kept apart, not for this person ({reason}); \
                 {} document(s) listed as hers",
                apart.title,
                listed.len()
            );
        }
    }
    Ok(())
}

fn dr_curie() -> wire::Professional {
    wire::Professional {
        name: "Dr Marie Curie".into(),
        rpps: Some("10003456789".into()),
    }
}

/// The family on the demo's card (the shared fixture).
const DEMO_FAMILY: &str = include_str!("../../fixtures/apcv/family.json");

/// Two phones' radios side by side, for the demo: what one advertises the other hears at
/// −60 dBm. Phones use the platform's radio through the same `BleTransport` trait; this
/// computer has none to spare (`carnet exposure scan` listens with a real one).
struct SideBySide {
    advertised: std::sync::Mutex<[Option<carnet::exposure_notification::radio::Advertisement>; 2]>,
}

struct SideBySideRadio<'a> {
    room: &'a SideBySide,
    me: usize,
}

impl carnet::exposure_notification::radio::BleTransport for SideBySideRadio<'_> {
    fn advertise(
        &self,
        advertisement: &carnet::exposure_notification::radio::Advertisement,
    ) -> Result<(), carnet::exposure_notification::ExposureError> {
        let mut advertised =
            self.room.advertised.lock().map_err(|_| {
                carnet::exposure_notification::ExposureError::Radio("poisoned".into())
            })?;
        if let Some(slot) = advertised.get_mut(self.me) {
            *slot = Some(*advertisement);
        }
        Ok(())
    }

    fn scan(
        &self,
        _seconds: u32,
    ) -> Result<
        Vec<carnet::exposure_notification::radio::Reception>,
        carnet::exposure_notification::ExposureError,
    > {
        let advertised =
            self.room.advertised.lock().map_err(|_| {
                carnet::exposure_notification::ExposureError::Radio("poisoned".into())
            })?;
        Ok(advertised
            .get(1 - self.me)
            .copied()
            .flatten()
            .map(
                |advertisement| carnet::exposure_notification::radio::Reception {
                    advertisement,
                    rssi: -60,
                    time: 0,
                },
            )
            .into_iter()
            .collect())
    }
}

/// Two phones near each other yesterday; one tests positive and publishes its keys with the
/// laboratory's code; the other checks and finds out. Then a simulated town, end to end.
fn show_exposure(
    options: &Options,
    dir: &Path,
    url: &str,
    laboratory_key: &str,
) -> Result<(), SessionError> {
    let now = SystemClock.now_unix_millis();
    let clock = Arc::new(ManualClock::at(
        (now / 86_400_000 - 1) * 86_400_000 + 12 * 3_600_000,
    ));
    let alice = session::open_at(options, dir.join("alice"), clock.clone())?;
    let bob = session::open_at(options, dir.join("bob"), clock.clone())?;
    let alice_record =
        alice.create_record(&alice.record_dir(), &carnet::RecordUnlock::DeviceKey)?;
    let bob_record = bob.create_record(&bob.record_dir(), &carnet::RecordUnlock::DeviceKey)?;
    let calibration = carnet::exposure_notification::radio::Calibration::default();
    let (alice_radio, bob_radio) = (
        alice_record.exposure_radio(calibration)?,
        bob_record.exposure_radio(calibration)?,
    );
    let room = SideBySide {
        advertised: std::sync::Mutex::new([None, None]),
    };
    let mut heard = 0;
    for _ in 0..8 {
        alice_record.exposure_cycle(&alice_radio, &SideBySideRadio { room: &room, me: 0 })?;
        heard += bob_record
            .exposure_cycle(&bob_radio, &SideBySideRadio { room: &room, me: 1 })?
            .sightings;
        clock.advance(240_000);
    }
    outln!(
        "   Alice and Bob side by side for 32 minutes yesterday: a duty cycle every 4 minutes, \
         {heard} of Alice's rotating identifiers heard by Bob's phone"
    );
    clock.set(now);
    let runtime = crate::sync::runtime()?;
    let laboratory = carnet_server::ProfessionalClient::new(url, laboratory_key);
    let alice_services = alice.national_services(url, &[])?;
    let bob_services = bob.national_services(url, &[])?;
    let (published, (check, update)) = runtime.block_on(async {
        let code = laboratory
            .report_positive_test(None)
            .await
            .map_err(|e| SessionError::Io(format!("laboratory: {e}")))?
            .code;
        let published = alice_services
            .publish_exposure_keys(&alice_record, &code)
            .await?;
        let trusted = bob_services.exposure_verification_key().await?;
        let outcome = bob_services
            .check_exposure(&bob_record, &[trusted], 2, &mut |_| {})
            .await?;
        Ok::<_, SessionError>((published, outcome))
    })?;
    outln!(
        "   Alice tests positive: the laboratory's one-time code publishes her {published} key \
         (the server pads the day's signed file with fake keys)"
    );
    outln!(
        "   Bob checks: {} day file, {} keys, {} matched what his phone heard",
        update.files.len(),
        check.keys_checked,
        check.keys_matched
    );
    outln!("   {}", crate::exposure::describe_summary(&check.summary));
    crate::exposure::demo_town(options, url, laboratory_key)
}

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
        ClockStatus::MarkNotKept => {
            "ahead of the latest time seen, which could not be saved (storage full)".to_owned()
        }
    }
}
