//! The record's content end to end: documents, profile, agenda, inbox, access rules, search,
//! and export → import giving the same content.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Cursor;

use carnet_record::{
    AccessAction, DocumentQuery, DocumentSource, Gender, IncomingAttachment, MeasureKind,
    NewAppointment, NewCardCredential, NewMessage, NewProfileItem, Patient, Professional,
    ProfileKind, Record, RecordError, ReminderStatus,
};
use common::*;

fn fill(record: &Record) {
    record
        .set_patient(&Patient {
            given: "Camille".into(),
            family: "Martin".into(),
            birth_date: "1975-06-01".into(),
            gender: Gender::Female,
            // The owner of the lab reports of `common::lab_report`.
            ins: Some("253072B07300470".into()),
        })
        .unwrap();
    add_pdf(record, "Bilan sanguin", 150_000);
    record
        .add_document(
            &lab_report("Échographie abdominale"),
            DocumentSource::Professional,
            &mut cda("foie normal").as_slice(),
        )
        .unwrap();
    for (kind, text) in [
        (ProfileKind::Allergy, "Arachide"),
        (ProfileKind::Medication, "Lévothyroxine 50 µg"),
        (ProfileKind::Condition, "Hypothyroïdie"),
    ] {
        record
            .add_profile_item(
                kind,
                &NewProfileItem {
                    text: text.into(),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    record
        .add_measure(MeasureKind::BloodPressure, &[128.0, 82.0], Some(NOW))
        .unwrap();
    record
        .add_measure(MeasureKind::Weight, &[64.5], None)
        .unwrap();
    record
        .complete_reminder("dtp-45", NOW - 400 * 86_400_000)
        .unwrap();
    record
        .complete_reminder("cancer-sein", NOW - 100 * 86_400_000)
        .unwrap();
    record
        .add_appointment(&NewAppointment {
            title: "Consultation cardiologie".into(),
            start_millis: NOW + 7 * 86_400_000,
            end_millis: Some(NOW + 7 * 86_400_000 + 1_800_000),
            location: Some("Hôpital Henri-Mondor, Créteil".into()),
            professional: Some(doctor()),
            notes: Some("Apporter l'ECG".into()),
        })
        .unwrap();
    let mut attachment = pdf(70_000, 3);
    let message = record
        .deliver_message(
            &NewMessage {
                sender: doctor(),
                subject: "Résultats".into(),
                body: "Vos résultats sont normaux.".into(),
                reply_allowed: true,
            },
            vec![IncomingAttachment {
                name: "resultats.pdf".into(),
                content: &mut attachment.as_slice(),
            }],
        )
        .unwrap();
    record.reply(&message.id, "Merci docteur").unwrap();
    let other = Professional {
        name: "Dr Jean Dupont".into(),
        rpps: Some("10001234567".into()),
    };
    record.block_professional(&other).unwrap();
    record.documents_for_professional(&doctor()).unwrap();
    assert!(record.documents_for_professional(&other).is_err());
    record.add_certificate("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IUKRG*I.I5BROCWAAT4V22F/8X*G3M9JUPY0BX/KR96R/S09T./0LWTKD33236J3TA3M*4VV2 73-E3GG396B-43O058YIB73A*G3W19UEBY5:PI0EGSP4*2DN43U*0CEBQ/GXQFY73CIBC:G 7376BXBJBAJ UNFMJCRN0H3PQN*E33H3OA70M3FMJIJN523.K5QZ4A+2XEN QT QTHC31M3+E32R44$28A9H0D3ZCL4JMYAZ+S-A5$XKX6T2YC 35H/ITX8GL2-LH/CJTK96L6SR9MU9RFGJA6Q3QR$P2OIC0JVLA8J3ET3:H3A+2+33U SAAUOT3TPTO4UBZIC0JKQTL*QDKBO.AI9BVYTOCFOPS4IJCOT0$89NT2V457U8+9W2KQ-7LF9-DF07U$B97JJ1D7WKP/HLIJLRKF1MFHJP7NVDEBU1J*Z222E.GJF67Z JA6B.38O4BH*HB0EGLE2%V -3O+J3.PI2G:M1SSP2Y3D38-G9C+Q6D2Q5ZTK JMN0QR$0M3A8BQ9MJN/M/P11IHJ3H:35AE0000").unwrap();
    attachment.clear();
}

#[test]
fn documents_keep_their_metadata_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let big = add_pdf(&record, "Scanner thoracique", 1_000_000);
    assert_eq!(
        (big.media_type.as_str(), big.size),
        ("application/pdf", 1_000_000)
    );
    let mut back = Vec::new();
    record.read_document(&big.id, &mut back).unwrap();
    assert_eq!(back, pdf(1_000_000, 7));
    let refused = record.add_document(
        &lab_report("exe"),
        DocumentSource::User,
        &mut &b"MZ\x90\0payload"[..],
    );
    assert!(matches!(refused, Err(RecordError::UnsupportedDocument(_))));
    let empty_title = record.add_document(
        &lab_report("  "),
        DocumentSource::User,
        &mut pdf(10, 1).as_slice(),
    );
    assert!(matches!(empty_title, Err(RecordError::InvalidInput(_))));
    assert_eq!(record.documents().unwrap().len(), 1);
    record.delete_document(&big.id).unwrap();
    assert!(record.documents().unwrap().is_empty());
    assert!(matches!(
        record.document(&big.id),
        Err(RecordError::NotFound(_))
    ));
}

#[test]
fn profile_items_are_fhir_resources_with_versions() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let allergy = record
        .add_profile_item(
            ProfileKind::Allergy,
            &NewProfileItem {
                text: "Pénicilline".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(allergy.resource["resourceType"], "AllergyIntolerance");
    assert_eq!(allergy.resource["patient"]["reference"], "Patient/self");
    assert_eq!(allergy.version, 1);
    let bp = record
        .add_measure(MeasureKind::BloodPressure, &[130.0, 85.0], None)
        .unwrap();
    assert_eq!(bp.resource["code"]["coding"][0]["code"], "85354-9");
    assert_eq!(bp.resource["component"][1]["valueQuantity"]["value"], 85.0);
    assert_eq!(
        bp.summary(),
        "Blood pressure panel with all children optional: 130.0/85.0"
    );
    assert!(
        record
            .add_measure(MeasureKind::BloodPressure, &[130.0], None)
            .is_err()
    );
    assert!(
        record
            .add_measure(MeasureKind::Weight, &[f64::NAN], None)
            .is_err()
    );
    let mut changed = allergy.resource.clone();
    changed["code"]["text"] = "Pénicilline G".into();
    let v2 = record
        .put_profile_resource(ProfileKind::Allergy, &allergy.id, changed)
        .unwrap();
    assert_eq!(v2.version, 2);
    let missing = serde_json::json!({ "resourceType": "MedicationStatement", "status": "active" });
    assert!(matches!(
        record.put_profile_resource(ProfileKind::Medication, "m1", missing),
        Err(RecordError::InvalidInput(_))
    ));
    let wrong_type = serde_json::json!({ "resourceType": "Condition", "subject": {} });
    assert!(
        record
            .put_profile_resource(ProfileKind::Allergy, "a1", wrong_type)
            .is_err()
    );
    assert_eq!(record.profile(Some(ProfileKind::Allergy)).unwrap().len(), 1);
    assert_eq!(record.profile(None).unwrap().len(), 2);
}

#[test]
fn the_agenda_follows_the_owner_and_what_was_done() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    assert!(record.agenda().unwrap().reminders.is_empty());
    fill(&record);
    let agenda = record.agenda().unwrap();
    assert_eq!(agenda.appointments.len(), 1);
    let rules: Vec<&str> = agenda
        .reminders
        .iter()
        .map(|r| r.rule_id.as_str())
        .collect();
    // Done: no dTP booster due; mammography next due in 2 years (beyond the horizon).
    assert!(!rules.contains(&"dtp-45") && !rules.contains(&"cancer-sein"));
    let colorectal = agenda
        .reminders
        .iter()
        .find(|r| r.rule_id == "cancer-colorectal")
        .unwrap();
    assert_eq!(colorectal.status, ReminderStatus::Overdue);
    assert!(record.complete_reminder("no-such-rule", NOW).is_err());
    // The dTP completion became an Immunization in the profile.
    assert_eq!(
        record
            .profile(Some(ProfileKind::Immunization))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn messages_allow_replies_only_where_the_sender_does() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let no_reply = NewMessage {
        sender: doctor(),
        subject: "Rappel".into(),
        body: "Pensez au vaccin.".into(),
        reply_allowed: false,
    };
    let message = record.deliver_message(&no_reply, Vec::new()).unwrap();
    assert!(!message.read);
    assert!(matches!(
        record.reply(&message.id, "ok"),
        Err(RecordError::NotAllowed(_))
    ));
    assert!(record.open_message(&message.id).unwrap().read);
    let anonymous = NewMessage {
        sender: Professional {
            name: "X".into(),
            rpps: None,
        },
        ..no_reply.clone()
    };
    assert!(record.deliver_message(&anonymous, Vec::new()).is_err());
    let mut exe = b"MZ\x90\0".to_vec();
    let refused = record.deliver_message(
        &no_reply,
        vec![IncomingAttachment {
            name: "virus.exe".into(),
            content: &mut exe.as_slice(),
        }],
    );
    assert!(matches!(refused, Err(RecordError::UnsupportedDocument(_))));
    let traversal = record.deliver_message(
        &no_reply,
        vec![IncomingAttachment {
            name: "../x.pdf".into(),
            content: &mut pdf(100, 1).as_slice(),
        }],
    );
    assert!(matches!(traversal, Err(RecordError::InvalidInput(_))));
    exe.clear();
    assert_eq!(
        record.messages().unwrap().len(),
        1,
        "refused deliveries stored nothing"
    );
}

#[test]
fn access_rules_hide_block_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    let shown = add_pdf(&record, "Radio du genou", 1000);
    let hidden = add_pdf(&record, "Consultation psychiatrie", 1000);
    record.set_document_hidden(&hidden.id, true).unwrap();
    let seen = record.documents_for_professional(&doctor()).unwrap();
    assert_eq!(
        seen.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [shown.id.as_str()]
    );
    let mut sink = Vec::new();
    assert!(
        record
            .read_document_as_professional(&doctor(), &hidden.id, &mut sink)
            .is_err()
    );
    record
        .read_document_as_professional(&doctor(), &shown.id, &mut sink)
        .unwrap();
    assert_eq!(sink.len(), 1000);
    record.block_professional(&doctor()).unwrap();
    assert!(matches!(
        record.documents_for_professional(&doctor()),
        Err(RecordError::NotAllowed(_))
    ));
    record.unblock_professional("10003456789").unwrap();
    record.documents_for_professional(&doctor()).unwrap();
    let log = record.access_log().unwrap();
    let summary: Vec<(AccessAction, bool)> =
        log.iter().rev().map(|e| (e.action, e.allowed)).collect();
    assert_eq!(
        summary,
        [
            (AccessAction::ListDocuments, true),
            (AccessAction::ReadDocument, false),
            (AccessAction::ReadDocument, true),
            (AccessAction::ListDocuments, false),
            (AccessAction::ListDocuments, true),
        ]
    );
}

#[test]
fn search_matches_words_dates_codes_and_authors() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(dir.path(), &memory_vault());
    fill(&record);
    let titles = |query: DocumentQuery| -> Vec<String> {
        record
            .search_documents(&query)
            .unwrap()
            .into_iter()
            .map(|d| d.title)
            .collect()
    };
    assert_eq!(
        titles(DocumentQuery {
            text: Some("echographie ABDO".into()),
            ..Default::default()
        }),
        ["Échographie abdominale"]
    );
    assert_eq!(
        titles(DocumentQuery {
            text: Some("sanguin".into()),
            ..Default::default()
        })
        .len(),
        2,
        "description matches too"
    );
    assert_eq!(
        titles(DocumentQuery {
            code: Some("11502-2".into()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert!(
        titles(DocumentQuery {
            code: Some("34133-9".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        titles(DocumentQuery {
            author: Some("curie".into()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert_eq!(
        titles(DocumentQuery {
            author: Some("10003456789".into()),
            ..Default::default()
        })
        .len(),
        2
    );
    assert!(
        titles(DocumentQuery {
            from_millis: Some(NOW),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        titles(DocumentQuery {
            until_millis: Some(NOW),
            ..Default::default()
        })
        .len(),
        2
    );
}

#[test]
fn export_then_import_gives_the_same_record() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(&dir.path().join("a"), &memory_vault());
    fill(&record);
    let mut steps = Vec::new();
    let zip = record
        .export(Cursor::new(Vec::new()), &mut |p| steps.push(p))
        .unwrap()
        .into_inner();
    let last = steps.last().unwrap();
    assert_eq!(last.done, last.total);
    assert_eq!(
        last.total,
        150_000 + cda("foie normal").len() as u64 + 70_000
    );

    let copy = create(&dir.path().join("b"), &memory_vault());
    copy.import(Cursor::new(zip.clone()), &mut |_| {}).unwrap();
    assert_eq!(copy.patient().unwrap(), record.patient().unwrap());
    assert_eq!(copy.documents().unwrap(), record.documents().unwrap());
    assert_eq!(copy.profile(None).unwrap(), record.profile(None).unwrap());
    assert_eq!(copy.appointments().unwrap(), record.appointments().unwrap());
    assert_eq!(
        copy.completed_reminders().unwrap(),
        record.completed_reminders().unwrap()
    );
    assert_eq!(
        copy.blocked_professionals().unwrap(),
        record.blocked_professionals().unwrap()
    );
    assert_eq!(copy.access_log().unwrap(), record.access_log().unwrap());
    assert_eq!(copy.certificates().unwrap(), record.certificates().unwrap());
    assert_eq!(copy.certificates().unwrap().len(), 1);
    let (m1, m2) = (record.messages().unwrap(), copy.messages().unwrap());
    assert_eq!(m1.len(), m2.len());
    for (a, b) in m1.iter().zip(&m2) {
        assert_eq!(
            (
                &a.id,
                &a.subject,
                &a.body,
                a.read,
                a.outgoing,
                &a.in_reply_to
            ),
            (
                &b.id,
                &b.subject,
                &b.body,
                b.read,
                b.outgoing,
                &b.in_reply_to
            )
        );
        assert_eq!(a.attachments.len(), b.attachments.len());
        for (index, (x, y)) in a.attachments.iter().zip(&b.attachments).enumerate() {
            assert_eq!((&x.name, &x.sha256, x.size), (&y.name, &y.sha256, y.size));
            let (mut bx, mut by) = (Vec::new(), Vec::new());
            record.read_attachment(&a.id, index, &mut bx).unwrap();
            copy.read_attachment(&b.id, index, &mut by).unwrap();
            assert_eq!(bx, by);
        }
    }
    for document in record.documents().unwrap() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        record.read_document(&document.id, &mut a).unwrap();
        copy.read_document(&document.id, &mut b).unwrap();
        assert_eq!(a, b);
    }
    // A second import into the now full record is refused, and changes nothing.
    let before = copy.store().write_counter();
    assert!(matches!(
        copy.import(Cursor::new(zip), &mut |_| {}),
        Err(RecordError::ImportIntoNonEmpty)
    ));
    assert_eq!(copy.store().write_counter(), before);
}

/// An output that takes `room` bytes and then fails as a full disk does.
struct SmallDisk {
    written: Cursor<Vec<u8>>,
    room: u64,
}

impl std::io::Write for SmallDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.room.saturating_sub(self.written.position());
        if left == 0 {
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        let take = buf.len().min(usize::try_from(left).unwrap());
        self.written.write(&buf[..take])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for SmallDisk {
    fn seek(&mut self, position: std::io::SeekFrom) -> std::io::Result<u64> {
        self.written.seek(position)
    }
}

#[test]
fn an_export_onto_a_full_disk_is_storage_full_wherever_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let record = create(&dir.path().join("a"), &memory_vault());
    fill(&record);
    let whole = record
        .export(Cursor::new(Vec::new()), &mut |_| {})
        .unwrap()
        .into_inner();
    let size = whole.len() as u64;
    // Nothing, the Bundle, the middle of the big PDF, the central directory, its end. (Two
    // exports differ in size by the few bytes of their timestamps: no room is that close.)
    for room in [0, 100, 100_000, size - 200, size - 64] {
        let disk = SmallDisk {
            written: Cursor::new(Vec::new()),
            room,
        };
        match record.export(disk, &mut |_| {}) {
            Err(RecordError::StorageFull(_)) => {}
            other => panic!("room {room}: {:?}", other.map(|d| d.written.position())),
        }
    }
    let exact = SmallDisk {
        written: Cursor::new(Vec::new()),
        room: size + 64,
    };
    let fitted = record.export(exact, &mut |_| {}).unwrap();
    // Room for all of it is enough.
    assert!(fitted.written.into_inner().len().abs_diff(whole.len()) < 64);
}

fn card(rank: u32, credential: &[u8]) -> NewCardCredential {
    NewCardCredential {
        rank,
        credential: credential.to_vec(),
        ins_matricule: None,
    }
}

#[test]
fn the_card_is_replaced_whole_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let vault = memory_vault();
    let record = create(dir.path(), &vault);
    assert!(record.card().unwrap().is_empty());
    let first = record
        .replace_card(&[card(2, b"child v1"), card(1, b"holder v1")])
        .unwrap();
    assert_eq!(
        first.iter().map(|c| c.rank).collect::<Vec<_>>(),
        [1, 2],
        "by rank"
    );
    // A refused replacement (two credentials for one rank, an empty one) keeps what was held.
    for bad in [
        vec![card(1, b"a"), card(1, b"b")],
        vec![card(1, b"")],
        Vec::new(),
    ] {
        assert!(record.replace_card(&bad).is_err());
        assert_eq!(record.card().unwrap(), first);
    }
    record.replace_card(&[card(1, b"holder v2")]).unwrap();
    drop(record);
    let record = open(dir.path(), &vault).unwrap();
    let card = record.card().unwrap();
    assert_eq!(
        card.len(),
        1,
        "the child's old credential went with the replacement"
    );
    assert_eq!(card[0].credential, b"holder v2");
    // The readers' PKI material is kept with the card and goes with it.
    assert_eq!(record.reader_trust().unwrap(), None);
    assert!(record.keep_reader_trust(&[], b"list").is_err());
    assert!(record.keep_reader_trust(&[b"root".to_vec()], b"").is_err());
    record
        .keep_reader_trust(&[b"root".to_vec()], b"list v1")
        .unwrap();
    record
        .keep_reader_trust(&[b"root".to_vec()], b"list v2")
        .unwrap();
    let kept = record.reader_trust().unwrap().unwrap();
    assert_eq!(
        (kept.roots, kept.revocations),
        (vec![b"root".to_vec()], b"list v2".to_vec())
    );
    record.forget_card().unwrap();
    assert!(record.card().unwrap().is_empty());
    assert_eq!(record.reader_trust().unwrap(), None);
}
