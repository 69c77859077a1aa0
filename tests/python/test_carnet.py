"""Tests of the generated Python bindings against the host build of libcarnet_ffi.

Run by scripts/test-bindings with the generated `carnet_ffi` module on the path. Each test calls
into Rust; Rust calls back into the Python platform services below.
"""

import atexit
import os
import pathlib
import shutil
import struct
import sys
import tempfile
import threading
import time
import unittest

import asyncio
import http.server
import json
import urllib.request
import zipfile

import carnet_ffi as carnet
from fhir.resources.bundle import Bundle

START = 1_800_000_000_000
# 2021-05-04T00:00:00Z, when the CO3 test certificate is in force.
CO3_IN_FORCE = 1_620_086_400_000
FIXTURES = pathlib.Path(os.environ.get("CARNET_FIXTURES", "fixtures"))
DATA_DIR = tempfile.mkdtemp(prefix="carnet-python-test-")
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)


class RecordingVault(carnet.KeyVault):
    """A KeyVault in memory that records every call Rust makes into it."""

    def __init__(self):
        self.entries = {}
        self.calls = []
        self.lock = threading.Lock()

    def store(self, name, secret):
        with self.lock:
            self.calls.append(f"store {name}")
            self.entries[name] = bytes(secret)

    def load(self, name):
        with self.lock:
            self.calls.append(f"load {name}")
            return self.entries.get(name)

    def delete(self, name):
        with self.lock:
            self.calls.append(f"delete {name}")
            self.entries.pop(name, None)


class UnavailableVault(carnet.KeyVault):
    """A KeyVault whose storage fails on every call."""

    def store(self, name, secret):
        raise carnet.PlatformError.Unavailable("disk full")

    def load(self, name):
        raise carnet.PlatformError.Unavailable("disk full")

    def delete(self, name):
        raise carnet.PlatformError.Unavailable("disk full")


class SetClock(carnet.Clock):
    """A clock the test sets."""

    def __init__(self, now):
        self.now = now

    def now_unix_millis(self):
        return self.now


class SystemClock(carnet.Clock):
    """The system's clock, for what the reference server signs at its own time."""

    def now_unix_millis(self):
        return int(time.time() * 1000)


class CollectingSink(carnet.LogSink):
    """A log sink that keeps what it receives."""

    def __init__(self):
        self.records = []

    def log(self, record):
        self.records.append(record)


def open_carnet(vault=None, clock=None, sink=None, data_dir=DATA_DIR):
    return carnet.Carnet.open(
        clock or SetClock(START), vault or RecordingVault(), sink, carnet.LogLevel.DEBUG, data_dir
    )


def fresh_dir():
    path = tempfile.mkdtemp(prefix="carnet-python-record-", dir=DATA_DIR)
    return path


def co3_text():
    return (FIXTURES / "dcc/bindings/co3.hc1.txt").read_text().strip()


def co3_signer():
    return (FIXTURES / "dcc/bindings/co3-signer.der").read_bytes()


INS_INPUT = dict(
    matricule="253072B07300470",
    oid="1.2.250.1.213.1.4.8",
    birth_name="DUPONT",
    birth_given_names="MARIE ANNE",
    sex="F",
    birth_date="1953-07-14",
    birth_place="2B073",
)


class NirTest(unittest.TestCase):
    def test_valid_nir_is_decoded(self):
        info = open_carnet().check_nir("253072B07300470")
        self.assertEqual(info.normalized, "253072B07300470")
        self.assertEqual(info.redacted, "2*****…70")
        self.assertEqual(info.birth_year_digits, 53)
        self.assertEqual(info.order_number, 4)

    def test_invalid_control_key_raises_typed_error(self):
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            open_carnet().check_nir("253072B07300471")
        self.assertEqual(caught.exception.code, "nir.control_key")
        self.assertIn("expected 70", caught.exception.detail)

    def test_hostile_input_is_a_typed_error(self):
        carnet_instance = open_carnet()
        for hostile in ["9" * 1_000_000, "\x00" * 15, "é" * 15, ""]:
            with self.assertRaises(carnet.CarnetError.InvalidInput):
                carnet_instance.check_nir(hostile)


class PlatformServicesTest(unittest.TestCase):
    def test_rust_calls_into_python_vault_and_clock(self):
        vault = RecordingVault()
        open_carnet(vault=vault, clock=SetClock(START))
        self.assertEqual(
            vault.calls, ["load carnet.clock.high-water", "store carnet.clock.high-water"]
        )
        self.assertEqual(vault.entries["carnet.clock.high-water"], struct.pack(">q", START))

    def test_clock_set_back_is_reported(self):
        clock = SetClock(START)
        instance = open_carnet(clock=clock)
        clock.now = START - 3_600_000
        status = instance.check_clock()
        self.assertIsInstance(status, carnet.ClockStatus.MOVED_BACKWARDS)
        self.assertEqual(status.behind_by_millis, 3_600_000)

    def test_unavailable_vault_becomes_typed_error(self):
        with self.assertRaises(carnet.CarnetError.PlatformUnavailable) as caught:
            open_carnet(vault=UnavailableVault())
        self.assertEqual(caught.exception.code, "platform.unavailable")
        self.assertIn("disk full", caught.exception.detail)

    def test_log_sink_receives_redacted_records(self):
        sink = CollectingSink()
        open_carnet(sink=sink).check_nir("253072B07300470")
        messages = [record.message for record in sink.records]
        self.assertTrue(any("2*****…70" in m for m in messages), messages)
        self.assertFalse(any("07300" in m for m in messages), messages)


class InsTest(unittest.TestCase):
    def test_ins_is_checked_against_its_matricule(self):
        instance = open_carnet()
        ins = instance.check_ins(carnet.InsInput(**INS_INPUT))
        self.assertEqual(ins.kind, carnet.InsKind.NIR)
        self.assertEqual(ins.birth_place, "2B073")
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            instance.check_ins(carnet.InsInput(**{**INS_INPUT, "birth_date": "1954-07-14"}))
        self.assertEqual(caught.exception.code, "ins.mismatch")


class CertificatesTest(unittest.TestCase):
    def test_wallet_keeps_certificates_and_picks_the_one_to_show(self):
        instance = open_carnet(clock=SetClock(CO3_IN_FORCE), data_dir=fresh_dir())
        instance = instance.create_record(carnet.RecordUnlock.DEVICE_KEY())
        entry = instance.wallet_add(co3_text())
        self.assertEqual(entry.certificate_type, carnet.CertificateType.VACCINATION)
        self.assertEqual((entry.dose, entry.total_doses), (1, 2))
        self.assertEqual(entry.state, carnet.ExpiryState.EXPIRING_SOON)
        best = instance.wallet_best(entry.person_key, carnet.Purpose.ANY_PROOF)
        self.assertEqual(best.id, entry.id)
        self.assertIsNone(instance.wallet_best(entry.person_key, carnet.Purpose.RECOVERY))
        instance.wallet_remove(entry.id)
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            instance.wallet_remove(entry.id)
        self.assertEqual(caught.exception.code, "record.not_found")

    def test_verifier_mode_answers_valid_then_expired(self):
        clock = SetClock(CO3_IN_FORCE)
        instance = open_carnet(clock=clock)
        lists = carnet.VerifierLists.trusting_certificate(co3_signer(), CO3_IN_FORCE // 1000)
        verdict = instance.verify_pass(co3_text(), lists)
        self.assertIsInstance(verdict, carnet.PassVerdict.VALID)
        self.assertEqual(verdict.holder.given_name_icao, "GABRIELE")
        clock.now = CO3_IN_FORCE + 3 * 24 * 3600 * 1000
        verdict = instance.verify_pass(co3_text(), lists)
        self.assertIsInstance(verdict, carnet.PassVerdict.INVALID)
        self.assertEqual(verdict.code, "dcc.expiry")

    def test_qr_codes_render_and_frames_are_checked(self):
        instance = open_carnet()
        self.assertIn("<svg", instance.render_qr_svg(co3_text()))
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            instance.scan_qr_frame(b"\xff" * 64 * 64, 64, 64)
        self.assertEqual(caught.exception.code, "qr.not_found")
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            instance.scan_qr_frame(b"\x00" * 10, 64, 64)
        self.assertEqual(caught.exception.code, "input.unreadable")

    def test_hostile_lists_are_typed_errors(self):
        with self.assertRaises(carnet.CarnetError.InvalidInput):
            carnet.VerifierLists.open(b"\x00" * 64, co3_signer(), None)
        with self.assertRaises(carnet.CarnetError.InvalidInput):
            carnet.VerifierLists.trusting_certificate(b"not a certificate", 0)


PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300


class Progress(carnet.ProgressListener):
    """Keeps what Rust reports."""

    def __init__(self):
        self.steps = []

    def on_progress(self, done, total):
        self.steps.append((done, total))


class RecordTest(unittest.TestCase):
    def test_record_round_trips_through_an_export_checked_by_a_fhir_library(self):
        vault = RecordingVault()
        instance = open_carnet(vault=vault, data_dir=fresh_dir())
        self.assertFalse(instance.record_exists())
        record = instance.create_record(carnet.RecordUnlock.DEVICE_KEY())
        # The wrapping key went into the Python vault.
        self.assertTrue(any(c.startswith("store record.") and c.endswith(".key") for c in vault.calls))
        record.set_patient(carnet.Patient(given="Camille", family="Martin", birth_date="1975-06-01",
                                          gender=carnet.Gender.FEMALE, ins=None))
        doctor = carnet.Professional(name="Dr Marie Curie", rpps="10003456789")
        document = record.add_document(
            carnet.NewDocument(title="Bilan sanguin", type_code=carnet.Coding(system="http://loinc.org", code="11502-2", display=None),
                               class_code=None, author=doctor, date_millis=START - 86_400_000, ins=None,
                               confidentiality=carnet.Confidentiality.NORMAL, description=None),
            PDF)
        self.assertEqual((document.media_type, document.size), ("application/pdf", len(PDF)))
        self.assertEqual(record.read_document(document.id), PDF)
        allergy = record.add_profile_item(carnet.ProfileKind.ALLERGY, "Arachide", None, None)
        self.assertEqual(json.loads(allergy.resource_json)["resourceType"], "AllergyIntolerance")
        record.add_measure(carnet.MeasureKind.BLOOD_PRESSURE, [128.0, 82.0], None)
        record.add_profile_item(carnet.ProfileKind.IMMUNIZATION, "Rappel dTP",
                                carnet.Coding(system="https://carnet.invalid/fhir/CodeSystem/vaccine-group", code="dtp", display=None), START)
        message = record.deliver_message(
            carnet.NewMessage(sender=doctor, subject="Résultats", body="Normaux.", reply_allowed=False),
            [carnet.NewAttachment(name="cr.pdf", content=PDF)])
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            record.reply(message.id, "Merci")
        self.assertEqual(caught.exception.code, "record.not_allowed")
        self.assertEqual(record.read_attachment(message.id, 0), PDF)
        record.complete_reminder("cancer-sein", START)
        reminders = [r.rule_id for r in record.agenda().reminders]
        self.assertIn("cancer-colorectal", reminders)
        self.assertNotIn("cancer-sein", reminders)
        self.assertEqual(len(record.search_documents(carnet.DocumentQuery(text="bilan", from_millis=None, until_millis=None, code=None, author=None))), 1)

        record.add_profile_item(carnet.ProfileKind.MEDICATION, "Lévothyroxine 50 µg", None, None)
        record.add_profile_item(carnet.ProfileKind.CONDITION, "Hypothyroïdie", None, None)
        record.add_appointment(carnet.NewAppointment(title="Cardiologie", start_millis=START + 86_400_000, end_millis=None,
                                                     location="Hôpital Henri-Mondor", professional=doctor, notes=None))
        record.block_professional(carnet.Professional(name="Dr Jean Dupont", rpps="10001234567"))
        self.assertEqual(len(record.documents_for_professional(doctor)), 1)
        record.wallet_add(co3_text())
        export = os.path.join(fresh_dir(), "export.zip")
        progress = Progress()
        record.export_to(export, progress)
        self.assertEqual(progress.steps[-1], (2 * len(PDF), 2 * len(PDF)))
        with zipfile.ZipFile(export) as archive:
            bundle = json.loads(archive.read("bundle.json"))
            self.assertEqual(archive.read(f"documents/{document.id}.pdf"), PDF)
        parsed = Bundle.parse_obj(bundle)  # raises on anything that is not valid FHIR R4
        types = sorted(e.resource.resource_type for e in parsed.entry)
        self.assertEqual(types, ["AllergyIntolerance", "Appointment", "AuditEvent", "Basic", "Basic", "Communication",
                                 "Condition", "DocumentReference", "Immunization", "MedicationStatement",
                                 "Observation", "Patient", "Procedure"])

        other = open_carnet(data_dir=fresh_dir()).create_record(carnet.RecordUnlock.PASSPHRASE("cheval agrafe pile correcte"))
        other.import_from(export, None)
        self.assertEqual(other.documents(), record.documents())
        self.assertEqual([p.resource_json for p in other.profile(None)], [p.resource_json for p in record.profile(None)])
        self.assertEqual(other.agenda(), record.agenda())
        self.assertEqual(other.access_log(), record.access_log())
        self.assertEqual([e.id for e in other.wallet_list()], [e.id for e in record.wallet_list()])
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            other.import_from(export, None)
        self.assertEqual(caught.exception.code, "record.import_not_empty")

    def test_a_cda_fills_its_metadata_and_opens_as_its_pdf(self):
        record = open_carnet(data_dir=fresh_dir()).create_record(carnet.RecordUnlock.DEVICE_KEY())
        cda = (FIXTURES / "cda/BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml").read_bytes()
        blank = carnet.NewDocument(title="", type_code=None, class_code=None, author=None, date_millis=None,
                                   ins=None, confidentiality=carnet.Confidentiality.NORMAL, description=None)
        document = record.add_document(blank, cda)
        self.assertEqual(document.title, "Compte rendu d'examens biologiques")
        self.assertEqual(document.type_code.code, "11502-2")
        self.assertEqual(document.author.rpps, "01234534765")
        self.assertEqual(document.ins, "279035121518989")
        # The record knows no INS yet: taken unchecked, naming its patient.
        self.assertTrue(document.addressee.is_unchecked())
        self.assertEqual(document.patient.name, "DOMINIQUE PAT-TROIS")
        viewable = record.viewable_document(document.id)
        self.assertEqual(viewable.media_type, "application/pdf")
        self.assertTrue(viewable.bytes.startswith(b"%PDF-"))
        self.assertEqual(len(viewable.bytes), 326_650)
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            record.add_document(blank, b"<!DOCTYPE d [<!ENTITY x 'y'>]><ClinicalDocument/>")
        self.assertEqual(caught.exception.code, "cda.dtd")
        self.assertEqual(len(record.documents()), 1)
        vaccines = record.add_document(blank, (FIXTURES / "cda/VAC_2023.01.xml").read_bytes())
        page = record.document_page(vaccines.id)
        self.assertIn("<h1>Historique de vaccinations</h1>", page)
        self.assertNotIn("<script", page)
        self.assertTrue(record.document_text(vaccines.id).startswith("Historique de vaccinations\n"))
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            record.document_page(document.id)
        self.assertEqual(caught.exception.code, "cda.body")

    def test_a_cdas_findings_are_valid_fhir_r4_and_join_the_profile_when_asked(self):
        """Every finding of the ANS examples offered to the profile is a FHIR R4 resource that
        fhir.resources (an independent implementation of the specification) accepts."""
        from fhir.resources import construct_fhir_element
        record = open_carnet(data_dir=fresh_dir()).create_record(carnet.RecordUnlock.DEVICE_KEY())
        blank = carnet.NewDocument(title="", type_code=None, class_code=None, author=None, date_millis=None,
                                   ins=None, confidentiality=carnet.Confidentiality.NORMAL, description=None)
        kinds, added = set(), {}
        for name in ["BIO-CR-BIO_2024.01_TSH_1.xml", "BIO-CR-BIO_2021.01_Auto-Presentable.xml",
                     "BIO-TROD_2024.01_COVID-19.xml", "VAC_2023.01.xml", "CARD-F-PRC-TAP_2022.01.xml",
                     "eP-MED-DM_2024.01_PosoStruct.xml", "DLU-EHPAD-DLU_2022.01.xml"]:
            document = record.add_document(blank, (FIXTURES / "cda" / name).read_bytes())
            added[name] = document
            offered = record.document_findings(document.id)
            self.assertTrue(offered, name)
            for finding in offered:
                resource = json.loads(finding.resource_json)
                construct_fhir_element(resource["resourceType"], resource)  # raises if not valid R4
                kinds.add(finding.kind)
                self.assertFalse(finding.in_profile)
        self.assertEqual(kinds, {carnet.ProfileKind.OBSERVATION, carnet.ProfileKind.IMMUNIZATION,
                                 carnet.ProfileKind.ALLERGY, carnet.ProfileKind.MEDICATION})
        self.assertEqual(record.profile(None), [])
        tsh = added["BIO-CR-BIO_2024.01_TSH_1.xml"]
        item = record.add_finding_to_profile(tsh.id, 0)
        self.assertEqual(json.loads(item.resource_json)["valueQuantity"]["code"], "m[IU]/L")
        self.assertTrue(record.document_findings(tsh.id)[0].in_profile)
        self.assertEqual(len(record.profile(None)), 1)

    def test_documents_handed_on_as_xdm_read_with_the_standard_library(self):
        """The XDM archive Carnet writes, judged by Python's own zipfile, hashlib and
        ElementTree: the layout IHE ITI TF-1 §16 gives, each file's SHA-1 and size as its
        DocumentEntry says, then imported into another record."""
        import hashlib
        import xml.etree.ElementTree as ET
        record = open_carnet(data_dir=fresh_dir()).create_record(carnet.RecordUnlock.DEVICE_KEY())
        blank = carnet.NewDocument(title="", type_code=None, class_code=None, author=None, date_millis=None,
                                   ins=None, confidentiality=carnet.Confidentiality.NORMAL, description=None)
        cda = record.add_document(blank, (FIXTURES / "cda/BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml").read_bytes())
        pdf = record.add_document(carnet.NewDocument(title="Ordonnance", type_code=None, class_code=None,
                                                     author=None, date_millis=None, ins=None,
                                                     confidentiality=carnet.Confidentiality.RESTRICTED,
                                                     description=None), b"%PDF-1.4\n%%EOF\n")
        path = os.path.join(fresh_dir(), "IHE_XDM.ZIP")
        record.export_xdm([cda.id, pdf.id], path)
        rim = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            self.assertTrue({"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML"} <= names, names)
            root = ET.fromstring(archive.read("IHE_XDM/SUBSET01/METADATA.XML"))
            self.assertEqual(root.tag, "{urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0}SubmitObjectsRequest")
            entries = root.findall(f"{rim}RegistryObjectList/{rim}ExtrinsicObject")
            self.assertEqual(len(entries), 2)
            for entry in entries:
                slots = {slot.get("name"): slot.find(f"{rim}ValueList/{rim}Value").text
                         for slot in entry.findall(f"{rim}Slot")}
                content = archive.read("IHE_XDM/SUBSET01/" + slots["URI"])
                self.assertEqual(slots["hash"], hashlib.sha1(content).hexdigest())
                self.assertEqual(int(slots["size"]), len(content))
                schemes = {c.get("classificationScheme"): c.get("nodeRepresentation")
                           for c in entry.findall(f"{rim}Classification")}
                self.assertIn(schemes["urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"], ("N", "R"))
                ids = {e.get("identificationScheme"): e.get("value") for e in entry.findall(f"{rim}ExternalIdentifier")}
                self.assertIn("urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab", ids)
            package = root.find(f"{rim}RegistryObjectList/{rim}RegistryPackage")
            members = [a.get("targetObject") for a in root.findall(f"{rim}RegistryObjectList/{rim}Association")
                       if a.get("sourceObject") == package.get("id")]
            self.assertEqual(sorted(members), sorted(e.get("id") for e in entries))
        other = open_carnet(data_dir=fresh_dir()).create_record(carnet.RecordUnlock.DEVICE_KEY())
        report = other.import_xdm(path, None)
        self.assertEqual((report.subsets, len(report.imported), len(report.already_present)), (1, 2, 0))
        self.assertEqual(sorted(d.title for d in report.imported),
                         ["Compte rendu d'examens biologiques", "Ordonnance"])
        again = other.import_xdm(path, None)
        self.assertEqual((len(again.imported), len(again.already_present)), (0, 2))
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            other.import_xdm(str(FIXTURES / "cda/VAC_2023.01.xml"), None)
        self.assertEqual(caught.exception.code, "record.import_refused")

    def test_device_key_lost_or_wrong_passphrase_are_typed_errors(self):
        data_dir = fresh_dir()
        vault = RecordingVault()
        open_carnet(vault=vault, data_dir=data_dir).create_record(carnet.RecordUnlock.DEVICE_KEY()).close_account()
        self.assertFalse(any(name.startswith("record.") for name in vault.entries), "crypto-erase removed the keys")
        record = open_carnet(vault=vault, data_dir=data_dir).create_record(carnet.RecordUnlock.DEVICE_KEY())
        record.add_profile_item(carnet.ProfileKind.CONDITION, "Asthme", None, None)
        del record
        import gc
        gc.collect()
        with self.assertRaises(carnet.CarnetError.PlatformDenied) as caught:
            open_carnet(vault=RecordingVault(), data_dir=data_dir).open_record(carnet.RecordUnlock.DEVICE_KEY())
        self.assertEqual(caught.exception.code, "record.wrong_device_key")
        reopened = open_carnet(vault=vault, data_dir=data_dir).open_record(carnet.RecordUnlock.DEVICE_KEY())
        self.assertEqual(reopened.profile(None)[0].summary, "Asthme")
        with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
            reopened.set_passphrase("123456")
        self.assertEqual(caught.exception.code, "record.weak_passphrase")


SERVER = os.environ.get("CARNET_SERVER", "")


class Stages(carnet.SyncListener):
    """Keeps the stages Rust reports, from its own thread."""

    def __init__(self):
        self.stages = []

    def on_progress(self, stage, done, total):
        self.stages.append(stage)


def register_family_card(nir):
    """The caisse registers the fixtures' family under `nir`; returns the activation code."""
    people = json.loads((FIXTURES / "apcv" / "family.json").read_text())
    for person in people:
        person["nir"] = nir
    people[0]["ins_matricule"] = nir
    request = urllib.request.Request(f"{SERVER}/v1/pro/cards", data=json.dumps({"people": people}).encode(),
                                     headers={"authorization": "Bearer " + os.environ["CARNET_PROFESSIONAL_KEY"],
                                              "content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["activation_code"]


def nir_with_key(first_13):
    """A NIR: its 13 characters and the control key (Corsican 2A/2B as 19/18)."""
    number = int(first_13.replace("2A", "19").replace("2B", "18"))
    return f"{first_13}{97 - number % 97:02d}"


class SyncTest(unittest.TestCase):
    """Async calls against the reference server scripts/test-bindings started on loopback."""

    def deposit(self, user, doc_id):
        body = json.dumps({"id": doc_id, "metadata": {"title": "Compte rendu"},
                           "content_base64": "JVBERi0xLjQKJSVFT0YK"}).encode()
        request = urllib.request.Request(f"{SERVER}/v1/pro/patients/{user}/documents", data=body, headers={
            "authorization": "Bearer " + os.environ["CARNET_PROFESSIONAL_KEY"],
            "content-type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            self.assertEqual(answer.status, 200)

    def test_record_syncs_and_lists_update_as_coroutines(self):
        self.assertTrue(SERVER, "CARNET_SERVER is not set")
        instance = open_carnet(data_dir=fresh_dir())
        services = instance.national_services(SERVER, [])
        record = instance.create_record(carnet.RecordUnlock.DEVICE_KEY())

        async def scenario():
            with self.assertRaises(carnet.CarnetError.Refused) as caught:
                await services.sync_record(record, None)
            self.assertEqual(caught.exception.code, "net.not_enrolled")
            nir = nir_with_key("1900375123456")
            await services.enrol_card(record, nir, register_family_card(nir), None)
            user = services.enrolled_user()
            self.deposit(user, "cr-python")
            record.add_document(carnet.NewDocument(title="Ordonnance", type_code=None, class_code=None, author=None,
                                                   date_millis=None, ins=None,
                                                   confidentiality=carnet.Confidentiality.NORMAL, description=None),
                                PDF)
            listener = Stages()
            report = await services.sync_record(record, listener)
            self.assertEqual((report.pull.documents, report.push.documents, report.still_pending), (1, 1, 0))
            self.assertEqual(sorted(set(listener.stages), key=str), [carnet.SyncStage.PULL, carnet.SyncStage.PUSH])
            self.assertEqual(sorted(d.title for d in record.documents()), ["Compte rendu", "Ordonnance"])
            with urllib.request.urlopen(f"{SERVER}/v1/lists/anchor") as answer:
                anchor = answer.read()
            first = await services.update_lists(anchor)
            self.assertTrue(first.reached and first.trust_changed and first.revocation_changed)
            second = await services.update_lists(anchor)
            self.assertFalse(second.trust_changed or second.revocation_changed)

            offline = instance.national_services("http://127.0.0.1:9", [])
            with self.assertRaises(carnet.CarnetError.Offline) as caught:
                await offline.enrol_card(record, nir, "ANYCODE", None)
            self.assertEqual(caught.exception.code, "net.offline")

        asyncio.run(scenario())

    def test_passes_are_judged_by_the_rules_of_the_country_of_arrival(self):
        self.assertTrue(SERVER, "CARNET_SERVER is not set")
        instance = open_carnet(clock=SystemClock(), data_dir=fresh_dir())
        with urllib.request.urlopen(f"{SERVER}/v1/lists/anchor") as answer:
            anchor = answer.read()
        lists = asyncio.run(instance.national_services(SERVER, []).update_lists(anchor)).lists
        old_test = (FIXTURES / "dcc/bindings/fr-old-test.hc1.txt").read_text().strip()
        verdict = instance.verify_pass_for_country(old_test, lists, "FR")
        self.assertIsInstance(verdict, carnet.PassVerdict.INVALID)
        self.assertEqual(verdict.code, "dcc.rules_not_met")
        rule = next(r for r in verdict.failed_rules if r.identifier.startswith("TR-FR-"))
        self.assertEqual(rule.country, "FR")
        french = [d.text for d in rule.descriptions if d.language == "fr"]
        self.assertTrue(french and french[0].strip(), rule.descriptions)
        first_dose = (FIXTURES / "dcc/bindings/fr-first-dose.hc1.txt").read_text().strip()
        verdict = instance.verify_pass_for_country(first_dose, lists, "FR")
        self.assertIsInstance(verdict, carnet.PassVerdict.INVALID)
        self.assertTrue(any(r.identifier.startswith("VR-FR-") for r in verdict.failed_rules))
        verdict = instance.verify_pass_for_country(first_dose, lists, "JP")
        self.assertIsInstance(verdict, carnet.PassVerdict.CANNOT_CONFIRM)
        entry = instance.create_record(carnet.RecordUnlock.DEVICE_KEY()).wallet_add(first_dose)
        names = {d.field: d.name for d in entry.details}
        self.assertEqual(names[carnet.EventField.VACCINE], "Comirnaty")
        self.assertEqual(names[carnet.EventField.DISEASE], "COVID-19")


class CardTest(unittest.TestCase):
    """The carte Vitale on the phone with the software key from the Python vault, and the
    pharmacy's reader, against the reference server."""

    def test_a_card_is_enrolled_shown_and_read(self):
        self.assertTrue(SERVER, "CARNET_SERVER is not set")
        # Another holder than the Kotlin test's: the same server serves both.
        nir = nir_with_key("1801275123456")
        code = register_family_card(nir)

        async def scenario():
            vault = RecordingVault()
            instance = open_carnet(vault=vault, clock=SystemClock(), data_dir=fresh_dir())
            services = instance.national_services(SERVER, [])
            record = instance.create_record(carnet.RecordUnlock.DEVICE_KEY())
            people = await services.enrol_card(record, nir, code, None)
            self.assertEqual([p.given_names for p in people], ["MARIE ANNE", "LEA"])
            self.assertIn("store apcv.device-key", vault.calls, "the software key lives in the Python vault")
            # The pharmacy's reader key, certified by the professionals' PKI of the server.
            import base64
            request = urllib.request.Request(f"{SERVER}/v1/pro/readers", data=json.dumps({
                "name": "Admissions", "organisation": "CH de Bastia", "identifier": "FINESS:2B0000012",
                "profession": "etablissement",
                "public_key": base64.b64encode(instance.reader_public_key()).decode()}).encode(),
                headers={"authorization": "Bearer " + os.environ["CARNET_PROFESSIONAL_KEY"],
                         "content-type": "application/json"})
            with urllib.request.urlopen(request) as answer:
                certificate = base64.b64decode(json.load(answer)["certificate"])
            root = await services.issuer_root()
            status = await services.issuer_status()
            reader = instance.card_reader(root, certificate)
            self.assertTrue(reader.update_status(status))

            # A hospital's admissions may ask the child's INS: ISO/IEC 18013-5 over a QR code.
            presentation = instance.start_presentation(record, carnet.CardEngagement.QR, None)
            establishment = reader.request(presentation.qr_text(), ["ins_matricule", "given_names"])
            step = presentation.receive(establishment)
            self.assertIsInstance(step, carnet.PresentationStep.ASKED)
            asked = step[0]
            self.assertTrue(asked.reader.verified)
            self.assertEqual((asked.reader.identifier, asked.reader.profession),
                             ("FINESS 2B0000012", "Établissement de santé (admissions)"))
            self.assertTrue(all(e.allowed for e in asked.elements))
            check = reader.read(presentation.respond(2, [e.name for e in asked.elements]), None)
            self.assertIsInstance(check, carnet.CardCheck.ACCEPTED)
            self.assertEqual([(e.name, e.value) for e in check.elements],
                             [("ins_matricule", "216087511603014"), ("given_names", "LEA")])
            # Tampered in transit: refused with its code, the reader told why.
            other = instance.start_presentation(record, carnet.CardEngagement.NFC, None)
            with self.assertRaises(carnet.CarnetError.InvalidInput) as caught:
                other.receive(reader.request_nfc(other.handover_select(), ["nir"])[:-1] + b"\x00")
            self.assertEqual(caught.exception.code, "mdoc.decryption")
            self.assertEqual(reader.read(other.closing_message(), None),
                             carnet.CardCheck.REFUSED("phone_decryption_error"))
            with self.assertRaises(carnet.CarnetError.InvalidInput):
                reader.request("mdoc:" + "A" * 50, ["nir"])
            # An anonymous reader asking the NIR: the names at most.
            anonymous = instance.card_reader(root, None)
            self.assertTrue(anonymous.update_status(status))
            shown = instance.start_presentation(record, carnet.CardEngagement.QR, None)
            step = shown.receive(anonymous.request(shown.qr_text(), ["family_name", "nir"]))
            self.assertFalse(step[0].reader.verified)
            self.assertEqual([e.allowed for e in step[0].elements], [True, False])
            check = anonymous.read(shown.respond(1, ["family_name", "nir"]), None)
            self.assertEqual([e.name for e in check.elements], ["family_name"])

            counter = instance.present_counter(record, 1, None)
            self.assertEqual(reader.read_counter(counter, "2030-01-01"), carnet.CardCheck.REFUSED("rights_expired"))
            with self.assertRaises(carnet.CarnetError.InvalidInput):
                instance.present_counter(record, 7, None)

            # BLE: Python plays both radios; what each side sends waits for the other.
            air = {"advertised": None, "to_phone": [], "to_reader": []}

            class Peripheral(carnet.MdocPeripheral):
                def start(self, service_uuid):
                    air["advertised"] = bytes(service_uuid)

                def notify(self, fragment):
                    assert len(fragment) <= 185 - 3
                    air["to_reader"].append(fragment)

                def stop(self):
                    air["advertised"] = None

            class Central(carnet.MdocCentral):
                def connect(self, service_uuid):
                    if air["advertised"] != bytes(service_uuid):
                        raise carnet.PlatformError.Unavailable("no such phone nearby")

                def write_state(self, value):
                    air["to_phone"].append((True, value))

                def write(self, fragment):
                    air["to_phone"].append((False, fragment))

                def disconnect(self):
                    pass

            responder = instance.ble_responder(record, Peripheral(), 185, None)
            reading = carnet.BleReading.connect(Central(), responder.qr_text(), 185)
            reading.send(reader.request(responder.qr_text(), ["given_names", "ins_matricule"]))
            step = None
            for state, data in air["to_phone"]:
                step = (responder.on_state(data) if state else responder.on_write(data)) or step
            air["to_phone"].clear()
            self.assertTrue(step[0].reader.verified)
            responder.respond(2, [e.name for e in step[0].elements])
            whole = None
            for fragment in air["to_reader"]:
                whole = reading.on_notify(fragment) or whole
            check = reader.read(whole, None)
            self.assertEqual([(e.name, e.value) for e in check.elements],
                             [("given_names", "LEA"), ("ins_matricule", "216087511603014")])
            reading.end_transfer()
            self.assertEqual(responder.on_state(air["to_phone"][-1][1]), carnet.PresentationStep.ENDED())
            self.assertIsNone(air["advertised"])
            with self.assertRaises(carnet.CarnetError.PlatformUnavailable):
                carnet.BleReading.connect(Central(), responder.qr_text(), 185)

        asyncio.run(scenario())


class RoomRadio(carnet.BleTransport):
    """Two phones side by side: what one advertises the other hears at -60 dBm."""

    def __init__(self, room, me, clock):
        self.room, self.me, self.clock = room, me, clock

    def advertise(self, service_data):
        self.room[self.me] = service_data

    def scan(self, seconds):
        other = self.room[1 - self.me]
        if other is None:
            return []
        return [carnet.BleReception(service_data=other, rssi=-60, time=self.clock.now // 1000)]


class ExposureTest(unittest.TestCase):
    """Exposure notification: the key schedule, a Python radio, a check against the key server."""

    def test_a_card_is_shown_to_a_remote_reader_whose_verdict_is_signed(self):
        here = os.environ.get("CARNET_REMOTE_READER")
        elsewhere = os.environ.get("CARNET_REMOTE_READER_ELSEWHERE")
        self.assertTrue(here and elsewhere, "CARNET_REMOTE_READER(_ELSEWHERE) are not set")
        nir = nir_with_key("2960375123456")
        code = register_family_card(nir)

        async def scenario():
            instance = open_carnet(vault=RecordingVault(), clock=SystemClock(), data_dir=fresh_dir())
            services = instance.national_services(SERVER, [])
            record = instance.create_record(carnet.RecordUnlock.DEVICE_KEY())
            await services.enrol_card(record, nir, code, None)
            # A pharmacy certified for 127.0.0.1 (carnet reader serve, started by the script).
            presentation = await instance.start_remote_presentation(record, here, None)
            asked = presentation.request()
            self.assertTrue(asked.reader.verified)
            self.assertEqual(asked.reader.organisation, "Pharmacie en ligne")
            outcome = await presentation.respond(1, ["family_name", "nir"])
            self.assertIsInstance(outcome, carnet.RemoteOutcome.CONFIRMED)
            self.assertEqual((outcome.accepted, outcome.code, outcome.elements),
                             (True, "accepted", ["family_name", "nir"]))
            # A pharmacy certified for another host: nothing allowed, no verdict believed.
            refused = await instance.start_remote_presentation(record, elsewhere, None)
            self.assertEqual(refused.request().reader.refusal, "reader_origin")
            self.assertFalse(any(e.allowed for e in refused.request().elements))
            self.assertIsInstance(await refused.respond(1, ["nir"]), carnet.RemoteOutcome.UNCONFIRMED)
            # Nobody listening there: a typed error, in words.
            with self.assertRaises(carnet.CarnetError.Offline) as caught:
                await instance.start_remote_presentation(record, "http://127.0.0.1:9/mdoc", None)
            self.assertEqual(caught.exception.code, "net.offline")

        asyncio.run(scenario())

    def test_the_key_schedule_gives_the_gaen_vectors(self):
        vectors = json.loads((FIXTURES / "exposure" / "gaen_v1.2_google_internals.json").read_text())
        identifiers = carnet.exposure_identifiers(bytes.fromhex(vectors["tek_hex"]),
                                                  vectors["rolling_start_interval_number"], 144,
                                                  bytes.fromhex(vectors["ble_metadata_hex"]))
        self.assertEqual([(i.rpi.hex(), i.aem.hex()) for i in identifiers],
                         [(v["rpi_hex"], v["aem_hex"]) for v in vectors["intervals"]])
        with self.assertRaises(carnet.CarnetError.InvalidInput):
            carnet.exposure_identifiers(b"short", 1, 144, b"\x40\0\0\0")

    def test_a_contact_tests_positive_and_the_other_phone_finds_out(self):
        self.assertTrue(SERVER, "CARNET_SERVER is not set")
        yesterday_noon = (int(time.time()) // 86_400 - 1) * 86_400_000 + 12 * 3_600_000
        clock = SetClock(yesterday_noon)

        async def scenario():
            alice = open_carnet(clock=clock, data_dir=fresh_dir())
            bob = open_carnet(clock=clock, data_dir=fresh_dir())
            alice_record = alice.create_record(carnet.RecordUnlock.DEVICE_KEY())
            bob_record = bob.create_record(carnet.RecordUnlock.DEVICE_KEY())
            room = [None, None]
            calibration = carnet.Calibration(rssi_correction=0, tx_power=-20, confidence=1)
            alice_radio = alice_record.exposure_radio(calibration)
            bob_radio = bob_record.exposure_radio(calibration)
            for _ in range(8):
                alice_record.exposure_cycle(alice_radio, RoomRadio(room, 0, clock))
                bob_record.exposure_cycle(bob_radio, RoomRadio(room, 1, clock))
                clock.now += 240_000
            clock.now = int(time.time() * 1000)
            request = urllib.request.Request(f"{SERVER}/v1/pro/test-results", data=b"{}", headers={
                "authorization": "Bearer " + os.environ["CARNET_PROFESSIONAL_KEY"],
                "content-type": "application/json"})
            with urllib.request.urlopen(request) as answer:
                code = json.load(answer)["code"]
            alice_services = alice.national_services(SERVER, [])
            self.assertEqual(await alice_services.publish_exposure_keys(alice_record, code), 1)
            with self.assertRaises(carnet.CarnetError.Refused):
                await alice_services.publish_exposure_keys(alice_record, code)  # used once
            bob_services = bob.national_services(SERVER, [])
            trusted = await bob_services.exposure_verification_key()
            status = await bob_services.check_exposure(bob_record, [trusted], 1, None)
            self.assertTrue(status.high_risk)
            self.assertEqual(status.keys_matched, 1)
            self.assertEqual(bob_record.exposure_status(), status)
            bob_record.forget_exposure_data()
            self.assertIsNone(bob_record.exposure_status())

        asyncio.run(scenario())


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"python: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
