// JVM tests of the generated Kotlin bindings against the host build of libcarnet_ffi.
// Run by scripts/test-bindings; each test calls through JNA into Rust, and Rust calls back
// into the Kotlin implementations of the platform services below.
package fr.carnet.core.test

import fr.carnet.core.CardCheck
import fr.carnet.core.CardSigner
import fr.carnet.core.Carnet
import fr.carnet.core.CardEngagement
import fr.carnet.core.NfcReading
import fr.carnet.core.NfcStep
import fr.carnet.core.PresentationStep
import fr.carnet.core.RemoteOutcome
import fr.carnet.core.CarnetException
import fr.carnet.core.Clock
import fr.carnet.core.ClockStatus
import fr.carnet.core.InsInput
import fr.carnet.core.InsKind
import fr.carnet.core.KeyVault
import fr.carnet.core.LogLevel
import fr.carnet.core.LogRecord
import fr.carnet.core.LogSink
import fr.carnet.core.CertificateType
import fr.carnet.core.ExpiryState
import fr.carnet.core.PassVerdict
import fr.carnet.core.PlatformException
import fr.carnet.core.Purpose
import fr.carnet.core.Sex
import fr.carnet.core.VerifierLists
import fr.carnet.core.EventField
import fr.carnet.core.Coding
import fr.carnet.core.Confidentiality
import fr.carnet.core.DocumentQuery
import fr.carnet.core.Gender
import fr.carnet.core.MeasureKind
import fr.carnet.core.NewAttachment
import fr.carnet.core.NewDocument
import fr.carnet.core.Addressee
import fr.carnet.core.NewMessage
import fr.carnet.core.Patient
import fr.carnet.core.Professional
import fr.carnet.core.ProfileKind
import fr.carnet.core.ProgressListener
import fr.carnet.core.RecordUnlock
import fr.carnet.core.SyncListener
import fr.carnet.core.SyncStage
import fr.carnet.core.BleReception
import fr.carnet.core.BleTransport
import fr.carnet.core.Calibration
import fr.carnet.core.ExposureListener
import fr.carnet.core.coreVersion
import fr.carnet.core.exposureIdentifiers
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlinx.coroutines.runBlocking
import javax.imageio.ImageIO
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import java.math.BigInteger
import java.security.KeyPairGenerator
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.After
import org.junit.Test

/** A KeyVault kept in memory that records every call Rust makes into it. */
class RecordingVault : KeyVault {
    val entries = ConcurrentHashMap<String, ByteArray>()
    val calls: MutableList<String> = Collections.synchronizedList(mutableListOf())

    override fun store(name: String, secret: ByteArray) {
        calls.add("store $name")
        entries[name] = secret.copyOf()
    }

    override fun load(name: String): ByteArray? {
        calls.add("load $name")
        return entries[name]?.copyOf()
    }

    override fun delete(name: String) {
        calls.add("delete $name")
        entries.remove(name)
    }
}

/** A KeyVault whose keystore is locked: every call is refused. */
class LockedVault : KeyVault {
    override fun store(name: String, secret: ByteArray): Unit = throw PlatformException.Denied("keystore locked")
    override fun load(name: String): ByteArray? = throw PlatformException.Denied("keystore locked")
    override fun delete(name: String): Unit = throw PlatformException.Denied("keystore locked")
}

/** A clock the test sets. */
class SetClock(@Volatile var now: Long) : Clock {
    override fun nowUnixMillis(): Long = now
}

/** The system's clock, for what the reference server signs at its own time. */
class SystemClock : Clock {
    override fun nowUnixMillis(): Long = System.currentTimeMillis()
}

/** A log sink that keeps what it receives. */
class CollectingSink : LogSink {
    val records: MutableList<LogRecord> = Collections.synchronizedList(mutableListOf())
    override fun log(record: LogRecord) {
        records.add(record)
    }
}

/**
 * The card's key as an Android shell holds it: a P-256 key in the platform keystore (here the
 * JVM's provider), whose signatures come DER-encoded and are given to the core as r ‖ s.
 */
class KeystoreSigner : CardSigner {
    private val pair = KeyPairGenerator.getInstance("EC").apply {
        initialize(ECGenParameterSpec("secp256r1"))
    }.generateKeyPair()
    @Volatile var refuse = false

    override fun publicKey(): ByteArray {
        val point = (pair.public as ECPublicKey).w
        return byteArrayOf(4) + fixed(point.affineX) + fixed(point.affineY)
    }

    override fun sign(message: ByteArray): ByteArray {
        if (refuse) throw PlatformException.Denied("user cancelled")
        val der = Signature.getInstance("SHA256withECDSA").run {
            initSign(pair.private)
            update(message)
            sign()
        }
        // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (short lengths for P-256).
        val rLength = der[3].toInt()
        val r = BigInteger(1, der.copyOfRange(4, 4 + rLength))
        val sLength = der[5 + rLength].toInt()
        val s = BigInteger(1, der.copyOfRange(6 + rLength, 6 + rLength + sLength))
        return fixed(r) + fixed(s)
    }

    /** A non-negative integer as 32 big-endian bytes. */
    private fun fixed(value: BigInteger): ByteArray {
        val bytes = value.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
        return ByteArray(32 - bytes.size) + bytes
    }
}

/**
 * Two phones' radios in one room, as an Android shell would drive BluetoothLeAdvertiser and
 * BluetoothLeScanner: what one advertises, the other hears at -60 dBm.
 */
class Room {
    val advertised = arrayOfNulls<ByteArray>(2)
}

class RoomRadio(private val room: Room, private val me: Int, private val clock: SetClock) : BleTransport {
    @Volatile var off = false

    override fun advertise(serviceData: ByteArray) {
        if (off) throw PlatformException.Unavailable("Bluetooth is off")
        room.advertised[me] = serviceData
    }

    override fun scan(seconds: UInt): List<BleReception> {
        val other = room.advertised[1 - me] ?: return listOf()
        val now = clock.now / 1000
        // A stranger's malformed service data is heard too: the core skips it.
        return listOf(BleReception(other, -60, now), BleReception(byteArrayOf(1, 2, 3), -50, now))
    }
}

class CarnetTest {
    private val start = 1_800_000_000_000L

    private val dataDir: String = Files.createTempDirectory("carnet-kotlin-test").toString()
    private val fixtures = File(System.getProperty("carnet.fixtures") ?: "fixtures")

    /** 2021-05-04T00:00:00Z, when the CO3 test certificate is in force. */
    private val co3InForce = 1_620_086_400_000L

    private fun open(vault: KeyVault = RecordingVault(), clock: Clock = SetClock(start), sink: LogSink? = null) =
        Carnet.open(clock, vault, sink, LogLevel.DEBUG, dataDir)

    @After
    fun removeDataDir() {
        File(dataDir).deleteRecursively()
    }

    private fun co3Text() = File(fixtures, "dcc/bindings/co3.hc1.txt").readText().trim()

    private fun co3Signer() = File(fixtures, "dcc/bindings/co3-signer.der").readBytes()

    @Test
    fun validNirIsDecoded() {
        val info = open().checkNir("2 53 07 2B 073 004 70")
        assertEquals("253072B07300470", info.normalized)
        assertEquals("2*****…70", info.redacted)
        assertEquals("2B073", info.birthPlaceCode)
        assertEquals(70.toUByte(), info.controlKey)
        assertFalse(info.bornAbroad)
    }

    @Test
    fun invalidControlKeyRaisesTypedException() {
        try {
            open().checkNir("253072B07300471")
            fail("an invalid NIR must throw")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("nir.control_key", e.code)
            assertEquals("error.nir.typo", e.messageKey)
            assertTrue(e.detail, e.detail.contains("expected 70"))
        }
    }

    @Test
    fun wrongLengthAndCharacterAreDistinguished() {
        val carnet = open()
        val codes = listOf("29510991261119", "253072C07300470").map { nir ->
            try {
                carnet.checkNir(nir)
                "accepted"
            } catch (e: CarnetException.InvalidInput) {
                e.code
            }
        }
        assertEquals(listOf("nir.length", "nir.character"), codes)
    }

    @Test
    fun rustCallsIntoKotlinVaultAndClock() {
        val vault = RecordingVault()
        open(vault = vault, clock = SetClock(start))
        assertEquals(
            listOf("load carnet.clock.high-water", "store carnet.clock.high-water"),
            vault.calls.toList(),
        )
        val stored = vault.entries.getValue("carnet.clock.high-water")
        assertArrayEquals(ByteBuffer.allocate(8).putLong(start).array(), stored)
    }

    @Test
    fun clockSetBackIsReportedThroughKotlinClock() {
        val vault = RecordingVault()
        val clock = SetClock(start)
        val carnet = open(vault = vault, clock = clock)
        assertEquals(ClockStatus.Consistent, carnet.checkClock())
        clock.now = start - 3_600_000L
        assertEquals(ClockStatus.MovedBackwards(3_600_000L), carnet.checkClock())
    }

    @Test
    fun lockedVaultBecomesTypedException() {
        try {
            open(vault = LockedVault())
            fail("opening with a locked vault must throw")
        } catch (e: CarnetException.PlatformDenied) {
            assertEquals("platform.denied", e.code)
            assertTrue(e.detail, e.detail.contains("keystore locked"))
        }
    }

    @Test
    fun logSinkReceivesRedactedRecords() {
        val sink = CollectingSink()
        val carnet = open(sink = sink)
        carnet.checkNir("253072B07300470")
        val messages = sink.records.map { it.message }
        assertTrue(messages.toString(), messages.any { it.contains("NIR accepted") && it.contains("2*****…70") })
        assertTrue(messages.toString(), messages.none { it.contains("07300") })
    }

    @Test
    fun insIsCheckedAgainstItsMatricule() {
        val carnet = open()
        val input = InsInput(
            matricule = "253072B07300470",
            oid = "1.2.250.1.213.1.4.8",
            birthName = "DUPONT",
            birthGivenNames = "MARIE ANNE",
            sex = "F",
            birthDate = "1953-07-14",
            birthPlace = "2B073",
        )
        val ins = carnet.checkIns(input)
        assertEquals(InsKind.NIR, ins.kind)
        assertEquals(Sex.FEMALE, ins.sex)
        assertEquals("253072B07300470", ins.matricule.normalized)
        try {
            carnet.checkIns(input.copy(sex = "M"))
            fail("a sex contradicting the NIR must throw")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("ins.mismatch", e.code)
        }
    }

    @Test
    fun walletKeepsCertificatesAndPicksTheOneToShow() {
        val carnet = open(clock = SetClock(co3InForce)).createRecord(RecordUnlock.DeviceKey)
        val entry = carnet.walletAdd(co3Text())
        assertEquals(CertificateType.VACCINATION, entry.certificateType)
        assertEquals(1uL, entry.dose)
        assertEquals(2uL, entry.totalDoses)
        assertEquals(ExpiryState.EXPIRING_SOON, entry.state)
        assertEquals("MUSTERFRAU<GOESSINGER", entry.holder.familyNameIcao)
        assertEquals(entry.id, carnet.walletAdd(co3Text()).id)
        assertEquals(entry.id, carnet.walletBest(entry.personKey, Purpose.ANY_PROOF)?.id)
        assertNull(carnet.walletBest(entry.personKey, Purpose.TEST))
        carnet.walletRemove(entry.id)
        assertTrue(carnet.walletList().isEmpty())
        try {
            carnet.walletRemove(entry.id)
            fail("removing twice must throw")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("record.not_found", e.code)
        }
        try {
            carnet.walletAdd("HC1:not base45")
            fail("garbage must throw")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("dcc.base45", e.code)
        }
    }

    private val pdf = "%PDF-1.7\n".toByteArray() + ByteArray(100_000) { (it % 251).toByte() }
    private val doctor = Professional("Dr Marie Curie", "10003456789")

    private fun newDocument(title: String) = NewDocument(
        title, Coding("http://loinc.org", "11502-2", null), null, doctor, start - 86_400_000L, null,
        Confidentiality.NORMAL, null,
    )

    @Test
    fun aCdaFillsItsMetadataAndOpensAsItsPdf() {
        val record = open().createRecord(RecordUnlock.DeviceKey)
        val cda = File(fixtures, "cda/BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml").readBytes()
        val blank = NewDocument("", null, null, null, null, null, Confidentiality.NORMAL, null)
        val document = record.addDocument(blank, cda)
        assertEquals("Compte rendu d'examens biologiques", document.title)
        assertEquals("11502-2", document.typeCode!!.code)
        assertEquals("01234534765", document.author!!.rpps)
        // The record knows no INS yet: taken unchecked, naming its patient.
        assertEquals(Addressee.Unchecked, document.addressee)
        assertEquals("DOMINIQUE PAT-TROIS", document.patient!!.name)
        val viewable = record.viewableDocument(document.id)
        assertEquals("application/pdf", viewable.mediaType)
        assertEquals(326_650, viewable.bytes.size)
        try {
            record.addDocument(blank, "<ClinicalDocument><title>cut".toByteArray())
            fail("a CDA that does not read is refused")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("cda.malformed", e.code)
        }
        assertEquals(1, record.documents().size)
        // A level-3 report's results, offered to the profile, one added when asked.
        val tsh = record.addDocument(blank, File(fixtures, "cda/BIO-CR-BIO_2024.01_TSH_1.xml").readBytes())
        val offered = record.documentFindings(tsh.id)
        assertEquals(2, offered.size)
        assertEquals(ProfileKind.OBSERVATION, offered[0].kind)
        assertTrue(offered[0].resourceJson.contains("\"code\":\"3016-3\""))
        assertTrue(record.profile(null).isEmpty())
        record.addFindingToProfile(tsh.id, 0u)
        assertTrue(record.documentFindings(tsh.id)[0].inProfile)
        // Handed on as an IHE XDM archive, and taken into another record from it.
        val archive = Files.createTempDirectory("carnet-kotlin-xdm").resolve("IHE_XDM.ZIP").toString()
        record.exportXdm(listOf(document.id), archive)
        val otherDir = Files.createTempDirectory("carnet-kotlin-other").toString()
        val other = Carnet.open(SetClock(start), RecordingVault(), null, LogLevel.DEBUG, otherDir)
            .createRecord(RecordUnlock.DeviceKey)
        val report = other.importXdm(archive, null)
        assertEquals(1u, report.subsets)
        assertEquals(listOf("Compte rendu d'examens biologiques"), report.imported.map { it.title })
        assertEquals(document.sha256, report.imported.single().sha256)
        assertEquals(1, other.importXdm(archive, null).alreadyPresent.size)
    }

    @Test
    fun recordIsUnlockedByTheKotlinVaultAndRoundTripsThroughAnExport() {
        val vault = RecordingVault()
        val record = open(vault = vault).createRecord(RecordUnlock.DeviceKey)
        val keyEntry = vault.entries.keys.single { it.startsWith("record.") && it.endsWith(".key") }
        assertEquals(32, vault.entries.getValue(keyEntry).size)
        record.setPatient(Patient("Camille", "Martin", "1975-06-01", Gender.FEMALE, null))
        val document = record.addDocument(newDocument("Bilan sanguin"), pdf)
        assertEquals("application/pdf", document.mediaType)
        assertArrayEquals(pdf, record.readDocument(document.id))
        val allergy = record.addProfileItem(ProfileKind.ALLERGY, "Arachide", null, null)
        assertTrue(allergy.resourceJson.contains("\"resourceType\":\"AllergyIntolerance\""))
        assertEquals("Blood pressure panel with all children optional: 128.0/82.0",
            record.addMeasure(MeasureKind.BLOOD_PRESSURE, listOf(128.0, 82.0), null).summary)
        val message = record.deliverMessage(NewMessage(doctor, "Résultats", "Normaux.", true),
            listOf(NewAttachment("cr.pdf", pdf)))
        assertEquals("Re: Résultats", record.reply(message.id, "Merci").subject)
        assertTrue(record.agenda().reminders.any { it.ruleId == "cancer-colorectal" })
        assertEquals(1, record.searchDocuments(DocumentQuery("BILAN", null, null, null, "curie")).size)

        val export = File(dataDir, "export.zip").path
        val steps = Collections.synchronizedList(mutableListOf<Pair<Long, Long>>())
        record.exportTo(export, object : ProgressListener {
            override fun onProgress(done: ULong, total: ULong) {
                steps.add(done.toLong() to total.toLong())
            }
        })
        assertEquals(2L * pdf.size to 2L * pdf.size, steps.last())
        record.closeAccount()
        assertFalse("crypto-erase removes the key from the Kotlin vault", vault.entries.containsKey(keyEntry))
        try {
            record.documents()
            fail("a closed record must refuse calls")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("record.not_found", e.code)
        }

        val restored = open(vault = vault).createRecord(RecordUnlock.Passphrase("cheval agrafe pile correcte"))
        restored.importFrom(export, null)
        assertEquals(listOf(document), restored.documents())
        assertEquals("Arachide", restored.profile(ProfileKind.ALLERGY).single().summary)
        assertEquals(2, restored.messages().size)
    }

    /** The reference server scripts/test-bindings started on loopback. */
    private val server: String = System.getProperty("carnet.server") ?: error("carnet.server is not set")
    private val http = HttpClient.newHttpClient()

    private fun depositDocument(user: String, id: String) {
        val body = "{\"id\":\"$id\",\"metadata\":{\"title\":\"Compte rendu\"}," +
            "\"content_base64\":\"JVBERi0xLjQKJSVFT0YK\"}"
        val request = HttpRequest.newBuilder(URI.create("$server/v1/pro/patients/$user/documents"))
            .header("authorization", "Bearer " + System.getProperty("carnet.professionalKey"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        assertEquals(200, http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode())
    }

    @Test
    fun recordSyncsAndListsUpdateAsSuspendFunctions() = runBlocking {
        val carnet = open()
        try {
            carnet.nationalServices(server, listOf(ByteArray(3)))
            fail("a pin is a 32-byte SHA-256")
        } catch (e: CarnetException.Refused) {
            assertEquals("net.protocol", e.code)
        }
        val services = carnet.nationalServices(server, listOf())
        val record = carnet.createRecord(RecordUnlock.DeviceKey)
        try {
            services.syncRecord(record, null)
            fail("a device that has not enrolled cannot sync")
        } catch (e: CarnetException.Refused) {
            assertEquals("net.not_enrolled", e.code)
        }
        // The account comes with the card (a holder of its own: the server is shared).
        val nir = nirWithKey("2750575123456")
        services.enrolCard(record, nir, registerFamilyCard(nir), null)
        val user = services.enrolledUser()!!
        depositDocument(user, "cr-kotlin")
        record.addDocument(newDocument("Ordonnance"), pdf)

        val stages = Collections.synchronizedList(mutableListOf<SyncStage>())
        val report = services.syncRecord(record, object : SyncListener {
            override fun onProgress(stage: SyncStage, done: ULong, total: ULong) {
                stages.add(stage)
            }
        })
        assertEquals(1u, report.pull.documents)
        assertEquals(1u, report.push.documents)
        assertEquals(0uL, report.stillPending)
        assertEquals(listOf(SyncStage.PULL, SyncStage.PUSH), stages.distinct())
        assertEquals(setOf("cr-kotlin"), record.documents().filter { it.title == "Compte rendu" }.map { it.id }.toSet())
        val again = services.syncRecord(record, null)
        assertEquals(0u, again.pull.documents + again.push.documents)

        val anchor = http.send(HttpRequest.newBuilder(URI.create("$server/v1/lists/anchor")).build(),
            HttpResponse.BodyHandlers.ofByteArray()).body()
        val first = services.updateLists(anchor)
        assertTrue(first.reached && first.trustChanged && first.revocationChanged)
        val second = services.updateLists(anchor)
        assertFalse("an unchanged list is not downloaded again", second.trustChanged)
        try {
            services.updateLists(anchor.copyOf().also { it[40] = (it[40].toInt() xor 1).toByte() })
            fail("lists signed by another key must be refused")
        } catch (e: CarnetException) {
            assertTrue(e.toString(), e is CarnetException.InvalidInput)
        }
    }

    /** A NIR: its first 13 digits and their control key. */
    private fun nirWithKey(first13: String): String =
        first13 + "%02d".format(97 - (first13.toLong() % 97))

    /** The caisse registers the fixtures' family, under `nir`; returns the activation code. */
    private fun registerFamilyCard(nir: String = "253072B07300470"): String {
        val people = File(fixtures, "apcv/family.json").readText().replace("253072B07300470", nir)
        val request = HttpRequest.newBuilder(URI.create("$server/v1/pro/cards"))
            .header("authorization", "Bearer " + System.getProperty("carnet.professionalKey"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"people\":$people}"))
            .build()
        val answer = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(answer.body(), 200, answer.statusCode())
        return Regex("\"activation_code\":\"([A-Z0-9]+)\"").find(answer.body())!!.groupValues[1]
    }

    @Test
    fun cardIsEnrolledWithAKotlinKeystoreKeyAndReadByThePharmacy() = runBlocking {
        val carnet = open(clock = SystemClock())
        val services = carnet.nationalServices(server, listOf())
        val record = carnet.createRecord(RecordUnlock.DeviceKey)
        val keystore = KeystoreSigner()
        try {
            services.enrolCard(record, "253072B07300470", "WRONGCODE", keystore)
            fail("a wrong activation code is refused")
        } catch (e: CarnetException.Refused) {
            assertEquals("net.refused", e.code)
        }
        val people = services.enrolCard(record, "253072B07300470", registerFamilyCard(), keystore)
        assertEquals(listOf("MARIE ANNE", "LEA"), people.map { it.givenNames })
        assertEquals("216087511603014", record.card()[1].insMatricule)
        assertTrue("the account comes with the card", services.enrolledUser() != null)

        // The pharmacy's reader key, certified by the professionals' PKI of the server.
        val readerKey = java.util.Base64.getEncoder().encodeToString(carnet.readerPublicKey())
        val certify = HttpRequest.newBuilder(URI.create("$server/v1/pro/readers"))
            .header("authorization", "Bearer " + System.getProperty("carnet.professionalKey"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"name\":\"Jeanne Martin\",\"organisation\":\"Pharmacie du Port\"," +
                    "\"identifier\":\"RPPS:10003456789\",\"profession\":\"21\",\"public_key\":\"$readerKey\"}"))
            .build()
        val certified = http.send(certify, HttpResponse.BodyHandlers.ofString())
        assertEquals(certified.body(), 200, certified.statusCode())
        val certificate = java.util.Base64.getDecoder().decode(
            Regex("\"certificate\":\"([^\"]+)\"").find(certified.body())!!.groupValues[1])
        val root = services.issuerRoot()
        val reader = carnet.cardReader(root, certificate)
        assertTrue(reader.updateStatus(services.issuerStatus()))

        // ISO/IEC 18013-5 over the QR engagement: the consent screen's request comes from the
        // pharmacy's verified certificate; the INS is not for a pharmacy.
        val presentation = carnet.startPresentation(record, CardEngagement.QR, keystore)
        val establishment = reader.request(presentation.qrText(),
            listOf("family_name", "amo_valid_from", "amo_valid_until", "ins_matricule"))
        val asked = presentation.receive(establishment) as PresentationStep.Asked
        assertTrue(asked.v1.reader.verified)
        assertEquals("Pharmacie du Port", asked.v1.reader.organisation)
        assertEquals("Pharmacien", asked.v1.reader.profession)
        assertEquals(listOf(true, true, true, false), asked.v1.elements.map { it.allowed })
        val answer = presentation.respond(1u, asked.v1.elements.map { it.name })
        val accepted = reader.read(answer, "2027-01-15") as? CardCheck.Accepted ?: error("refused")
        assertEquals(listOf("family_name" to "DUPONT", "amo_valid_from" to "2026-01-01",
            "amo_valid_until" to "2027-12-31"), accepted.elements.map { it.name to it.value })
        // The same establishment again is refused; the reader is told why.
        try {
            presentation.receive(establishment)
            fail("a replayed session establishment is refused")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("mdoc.decryption", e.code)
        }
        assertEquals(CardCheck.Refused("phone_decryption_error"),
            reader.read(presentation.closingMessage()!!, null))

        // The NFC engagement, the child's card.
        val tapped = carnet.startPresentation(record, CardEngagement.NFC, keystore)
        assertEquals(16, tapped.bleServiceUuid()!!.size)
        val nfcEstablishment = reader.requestNfc(tapped.handoverSelect()!!, listOf("given_names"))
        val childAsked = tapped.receive(nfcEstablishment) as PresentationStep.Asked
        val childAnswer = tapped.respond(2u, childAsked.v1.elements.map { it.name })
        assertEquals("LEA", (reader.read(childAnswer, null) as CardCheck.Accepted).elements.single().value)

        // A reader with no certificate: the names at most, nothing unless chosen.
        val anonymous = carnet.cardReader(root, null)
        val shown = carnet.startPresentation(record, CardEngagement.QR, keystore)
        val anonymousAsked = shown.receive(anonymous.request(shown.qrText(), listOf("family_name", "nir")))
            as PresentationStep.Asked
        assertEquals(false, anonymousAsked.v1.reader.verified)
        assertEquals(listOf(true, false), anonymousAsked.v1.elements.map { it.allowed })
        assertEquals(CardCheck.Refused("not_shown"), anonymous.read(shown.decline(), null))

        // A tap: the reader's commands go to the phone's card emulation and back, the
        // engagement read from the phone's tag, then the session.
        val responder = carnet.nfcResponder(record, 1u, listOf("family_name", "given_names"), keystore)
        fun overNfc(reading: NfcReading): ByteArray {
            var step = reading.next(null)
            var exchanged = 0
            while (step is NfcStep.Send) {
                step = reading.next(responder.process(step.v1))
                exchanged += 1
            }
            assertTrue("SELECT, then READ BINARY or ENVELOPE", exchanged >= 2)
            return (step as NfcStep.Done).v1
        }
        val select = overNfc(NfcReading.engagement())
        val tapAnswer = overNfc(NfcReading.message(reader.requestNfc(select, listOf("given_names", "nir"))))
        val readByTap = reader.read(tapAnswer, null) as? CardCheck.Accepted ?: error("refused over NFC")
        // The NIR is for a pharmacy, but the holder allowed only the names on the NFC screen.
        assertEquals(listOf("given_names" to "MARIE ANNE"), readByTap.elements.map { it.name to it.value })
        assertTrue(responder.lastRequest()!!.reader.verified)

        // The PKI revokes the pharmacy's certificate; the phone learns it with its rights
        // refresh, and from then on shows that reader nothing, whatever is tapped.
        val serial = Regex("\"serial\":\"([0-9a-f]+)\"").find(certified.body())!!.groupValues[1]
        val revoke = HttpRequest.newBuilder(URI.create("$server/v1/pro/readers/$serial/revoke"))
            .header("authorization", "Bearer " + System.getProperty("carnet.professionalKey"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{}"))
            .build()
        assertEquals(200, http.send(revoke, HttpResponse.BodyHandlers.ofString()).statusCode())
        services.refreshCard(record, keystore)
        assertTrue(reader.updateStatus(services.issuerStatus()))
        val afterRevocation = carnet.startPresentation(record, CardEngagement.QR, keystore)
        val refusedReader = afterRevocation.receive(
            reader.request(afterRevocation.qrText(), listOf("family_name"))) as PresentationStep.Asked
        assertEquals("reader_revoked", refusedReader.v1.reader.refusal)
        assertTrue(refusedReader.v1.elements.none { it.allowed })
        assertEquals(CardCheck.Refused("not_shown"),
            reader.read(afterRevocation.respond(1u, listOf("family_name")), null))

        // Carnet's counter QR: the child's once; the software key is not the card's.
        val child = carnet.presentCounter(record, 2u, keystore)
        assertTrue(reader.readCounter(child, null) is CardCheck.Accepted)
        assertEquals(CardCheck.Refused("replayed"), reader.readCounter(child, null))
        val software = carnet.presentCounter(record, 1u, null)
        assertEquals(CardCheck.Refused("device_signature"), reader.readCounter(software, null))
        keystore.refuse = true
        try {
            carnet.presentCounter(record, 1u, keystore)
            fail("a keystore that refuses to sign is a typed exception")
        } catch (e: CarnetException.PlatformDenied) {
            assertEquals("platform.denied", e.code)
        }
    }

    @Test
    fun cardIsShownToARemoteReaderWhoseVerdictIsSigned() = runBlocking {
        val carnet = open(clock = SystemClock())
        val services = carnet.nationalServices(server, listOf())
        val record = carnet.createRecord(RecordUnlock.DeviceKey)
        val keystore = KeystoreSigner()
        val nir = nirWithKey("2850675123456")
        services.enrolCard(record, nir, registerFamilyCard(nir), keystore)

        // A pharmacy certified for 127.0.0.1 (carnet reader serve, started by the test script).
        val items = listOf("family_name", "nir", "amo_valid_from", "amo_valid_until")
        val here = carnet.startRemotePresentation(record, System.getProperty("carnet.remoteReader"), keystore)
        val asked = here.request()
        assertTrue(asked.reader.verified)
        assertEquals("Pharmacie en ligne", asked.reader.organisation)
        assertEquals(true, asked.elements.all { it.allowed })
        val outcome = here.respond(1u, asked.elements.map { it.name }.filter { it in items })
        assertEquals(RemoteOutcome.Confirmed(true, "accepted",
            listOf("family_name", "given_names", "birth_date", "nir", "regime", "caisse",
                "amo_valid_from", "amo_valid_until").filter { it in items }), outcome)

        // Declined: the reader is told, nothing is shown.
        val declined = carnet.startRemotePresentation(record, System.getProperty("carnet.remoteReader"), keystore)
        assertEquals(RemoteOutcome.Declined, declined.decline())

        // A pharmacy certified for another host: refused before anything is shown, and what
        // it says afterwards is no verdict.
        val elsewhere = carnet.startRemotePresentation(record,
            System.getProperty("carnet.remoteReaderElsewhere"), keystore)
        assertEquals("reader_origin", elsewhere.request().reader.refusal)
        assertTrue(elsewhere.request().elements.none { it.allowed })
        assertTrue(elsewhere.respond(1u, listOf("nir")) is RemoteOutcome.Unconfirmed)

        // Not https, not on this machine.
        try {
            carnet.startRemotePresentation(record, "http://pharmacie.example/mdoc", keystore)
            fail("a plain http address elsewhere is refused")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("apcv.structure", e.code)
        }
    }

    @Test
    fun aLateTamperedOrForeignSessionMessageIsRefusedWithItsCode() = runBlocking {
        val clock = SetClock(System.currentTimeMillis())
        val carnet = open(clock = clock)
        val services = carnet.nationalServices(server, listOf())
        val record = carnet.createRecord(RecordUnlock.DeviceKey)
        val nir = nirWithKey("1770275123456")
        services.enrolCard(record, nir, registerFamilyCard(nir), null)
        val reader = carnet.cardReader(services.issuerRoot(), null)
        fun refusal(block: () -> Unit): String = try {
            block()
            error("refused expected")
        } catch (e: CarnetException.InvalidInput) {
            e.code
        }

        // An engagement older than 5 minutes: the person shows a new one.
        val late = carnet.startPresentation(record, CardEngagement.QR, null)
        val lateRequest = reader.request(late.qrText(), listOf("family_name"))
        clock.now += 6 * 60_000
        assertEquals("mdoc.engagement_expired", refusal { late.receive(lateRequest) })
        assertTrue(late.closingMessage() != null)

        // A request opened for another phone's engagement does not decrypt here.
        val mine = carnet.startPresentation(record, CardEngagement.QR, null)
        val other = carnet.startPresentation(record, CardEngagement.QR, null)
        assertEquals("mdoc.decryption",
            refusal { mine.receive(reader.request(other.qrText(), listOf("family_name"))) })

        // One byte changed in transit, then bytes that are not a session message at all.
        val tampered = carnet.startPresentation(record, CardEngagement.QR, null)
        val message = reader.request(tampered.qrText(), listOf("family_name"))
        message[message.size - 1] = (message[message.size - 1].toInt() xor 1).toByte()
        assertEquals("mdoc.decryption", refusal { tampered.receive(message) })
        val garbage = carnet.startPresentation(record, CardEngagement.QR, null)
        assertTrue(refusal { garbage.receive(byteArrayOf(0xa0.toByte())) }.startsWith("apcv."))
        // The reader too: an engagement that is not one.
        assertTrue(refusal { reader.request("mdoc:AAAA", listOf("nir")) }.startsWith("apcv."))
    }

    private fun hex(bytes: ByteArray) = bytes.joinToString("") { "%02x".format(it) }

    @Test
    fun exposureKeyScheduleGivesTheGaenVectors() {
        val vectors = File(fixtures, "exposure/gaen_v1.2_google_internals.json").readText()
        fun field(name: String) = Regex("\"$name\": \"([0-9a-f]+)\"").find(vectors)!!.groupValues[1]
        fun bytes(text: String) = text.chunked(2).map { it.toInt(16).toByte() }.toByteArray()
        val start = Regex("\"rolling_start_interval_number\": (\\d+)").find(vectors)!!.groupValues[1].toUInt()
        val identifiers = exposureIdentifiers(bytes(field("tek_hex")), start, 144u, bytes(field("ble_metadata_hex")))
        assertEquals(144, identifiers.size)
        val expected = Regex("\"rpi_hex\": \"([0-9a-f]+)\",\\s*\"aem_hex\": \"([0-9a-f]+)\"").findAll(vectors).toList()
        assertEquals(144, expected.size)
        for ((got, want) in identifiers.zip(expected)) {
            assertEquals(want.groupValues[1], hex(got.rpi))
            assertEquals(want.groupValues[2], hex(got.aem))
        }
        try {
            exposureIdentifiers(ByteArray(15), start, 144u, ByteArray(4))
            fail("a 15-byte key is refused")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("exposure.key", e.code)
        }
    }

    /** The laboratory reports a positive test; returns the one-time code. */
    private fun positiveTestCode(): String {
        val request = HttpRequest.newBuilder(URI.create("$server/v1/pro/test-results"))
            .header("authorization", "Bearer " + System.getProperty("carnet.professionalKey"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{}"))
            .build()
        val answer = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(answer.body(), 200, answer.statusCode())
        return Regex("\"code\":\"([A-Z0-9]+)\"").find(answer.body())!!.groupValues[1]
    }

    @Test
    fun exposureRadioThroughKotlinAndACheckAgainstTheKeyServer() = runBlocking {
        // Yesterday at noon, two phones side by side for 32 minutes.
        val yesterdayNoon = (System.currentTimeMillis() / 86_400_000 - 1) * 86_400_000 + 12 * 3_600_000
        val clock = SetClock(yesterdayNoon)
        val bobDir = Files.createTempDirectory("carnet-kotlin-bob").toString()
        val alice = Carnet.open(clock, RecordingVault(), null, LogLevel.INFO, dataDir)
        val bob = Carnet.open(clock, RecordingVault(), null, LogLevel.INFO, bobDir)
        try {
            val aliceRecord = alice.createRecord(RecordUnlock.DeviceKey)
            val bobRecord = bob.createRecord(RecordUnlock.DeviceKey)
            val room = Room()
            val calibration = Calibration(rssiCorrection = 0, txPower = -20, confidence = 1u)
            val aliceRadio = aliceRecord.exposureRadio(calibration)
            val bobRadio = bobRecord.exposureRadio(calibration)
            val aliceTransport = RoomRadio(room, 0, clock)
            val bobTransport = RoomRadio(room, 1, clock)
            var heard = 0u
            repeat(8) {
                aliceRecord.exposureCycle(aliceRadio, aliceTransport)
                heard += bobRecord.exposureCycle(bobRadio, bobTransport).sightings
                clock.now += 240_000
            }
            assertEquals("Alice heard once a scan; the malformed stranger skipped", 8u, heard)
            assertEquals(1u, aliceRecord.exposureKeyCount())
            aliceTransport.off = true
            try {
                aliceRecord.exposureCycle(aliceRadio, aliceTransport)
                fail("a radio that is off is a typed exception")
            } catch (e: CarnetException.PlatformUnavailable) {
                assertEquals("exposure.radio", e.code)
            }

            clock.now = System.currentTimeMillis()
            val aliceServices = alice.nationalServices(server, listOf())
            assertEquals(1u, aliceServices.publishExposureKeys(aliceRecord, positiveTestCode()))
            val bobServices = bob.nationalServices(server, listOf())
            val trusted = bobServices.exposureVerificationKey()
            val steps = Collections.synchronizedList(mutableListOf<String>())
            val status = bobServices.checkExposure(bobRecord, listOf(trusted), 2u, object : ExposureListener {
                override fun onDownload(done: UInt, total: UInt) { steps.add("download") }
                override fun onMatching(files: ULong, keys: ULong) { steps.add("matching") }
            })
            assertTrue(status.highRisk)
            assertEquals(1uL, status.keysMatched)
            assertEquals(1u, status.mostRecentHighRiskAge)
            assertTrue(steps.contains("download") && steps.contains("matching"))
            assertEquals(status, bobRecord.exposureStatus())
            bobRecord.forgetExposureData()
            assertNull(bobRecord.exposureStatus())
        } finally {
            File(bobDir).deleteRecursively()
        }
    }

    @Test
    fun wrongSecretsAreTypedExceptions() {
        val vault = RecordingVault()
        val carnet = open(vault = vault)
        carnet.createRecord(RecordUnlock.Passphrase("cheval agrafe pile correcte")).destroy()
        try {
            carnet.openRecord(RecordUnlock.Passphrase("une autre phrase"))
            fail("a wrong passphrase must throw")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("record.wrong_passphrase", e.code)
            assertEquals("error.record.wrong_passphrase", e.messageKey)
        }
        try {
            open(vault = RecordingVault()).createRecord(RecordUnlock.Passphrase("482913"))
            fail("a PIN must be refused")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("record.weak_passphrase", e.code)
        }
        try {
            carnet.openRecord(RecordUnlock.DeviceKey)
            fail("no device-key slot")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("record.no_key_slot", e.code)
        }
    }

    @Test
    fun verifierModeAnswersValidThenExpired() {
        val clock = SetClock(co3InForce)
        val carnet = open(clock = clock)
        val lists = VerifierLists.trustingCertificate(co3Signer(), co3InForce / 1000)
        val valid = carnet.verifyPass(co3Text(), lists)
        assertTrue(valid.toString(), valid is PassVerdict.Valid)
        assertEquals("1998-02-26", (valid as PassVerdict.Valid).holder.birthDate)
        clock.now = co3InForce + 3L * 24 * 3600 * 1000
        val expired = carnet.verifyPass(co3Text(), lists)
        assertTrue(expired.toString(), expired is PassVerdict.Invalid)
        assertEquals("dcc.expiry", (expired as PassVerdict.Invalid).code)
        val forged = carnet.verifyPass(co3Text().dropLast(8) + "AAAAAAAA", lists)
        assertTrue(forged.toString(), forged is PassVerdict.Invalid)
    }

    @Test
    fun passesAreJudgedByTheRulesOfTheCountryOfArrival() = runBlocking {
        val carnet = open(clock = SystemClock())
        val anchor = http.send(HttpRequest.newBuilder(URI.create("$server/v1/lists/anchor")).build(),
            HttpResponse.BodyHandlers.ofByteArray()).body()
        val lists = carnet.nationalServices(server, listOf()).updateLists(anchor).lists
        val oldTest = File(fixtures, "dcc/bindings/fr-old-test.hc1.txt").readText().trim()
        val refused = carnet.verifyPassForCountry(oldTest, lists, "FR")
        assertTrue(refused.toString(), refused is PassVerdict.Invalid)
        refused as PassVerdict.Invalid
        assertEquals("dcc.rules_not_met", refused.code)
        assertEquals("DUPOND", refused.holder!!.familyNameIcao)
        val rule = refused.failedRules.first { it.identifier.startsWith("TR-FR-") }
        assertEquals("FR", rule.country)
        assertTrue(rule.descriptions.toString(), rule.descriptions.any { it.language == "fr" && it.text.isNotBlank() })
        val firstDose = File(fixtures, "dcc/bindings/fr-first-dose.hc1.txt").readText().trim()
        val dose = carnet.verifyPassForCountry(firstDose, lists, "FR")
        assertTrue(dose.toString(), dose is PassVerdict.Invalid)
        assertTrue((dose as PassVerdict.Invalid).failedRules.all { it.identifier.startsWith("VR-FR-") || it.identifier.startsWith("GR-FR-") })
        // Genuine, but no rules are held for Japan: nothing can be said.
        val unknown = carnet.verifyPassForCountry(firstDose, lists, "JP")
        assertTrue(unknown.toString(), unknown is PassVerdict.CannotConfirm)
        // The wallet names what the codes say.
        val entry = carnet.createRecord(RecordUnlock.DeviceKey).walletAdd(firstDose)
        assertEquals("Comirnaty", entry.details.first { it.field == EventField.VACCINE }.name)
        assertEquals("840539006", entry.details.first { it.field == EventField.DISEASE }.code)
    }

    @Test
    fun aCameraFrameIsReadAndTheCodeRenderedAgain() {
        val image = ImageIO.read(File(fixtures, "dcc/bindings/qr.png"))
        val luma = ByteArray(image.width * image.height)
        for (y in 0 until image.height) {
            for (x in 0 until image.width) {
                val rgb = image.getRGB(x, y)
                val gray = (((rgb shr 16) and 0xff) * 299 + ((rgb shr 8) and 0xff) * 587 + (rgb and 0xff) * 114) / 1000
                luma[y * image.width + x] = gray.toByte()
            }
        }
        val carnet = open()
        val expected = File(fixtures, "dcc/bindings/qr.hc1.txt").readText().trim()
        assertEquals(expected, carnet.scanQrFrame(luma, image.width.toUInt(), image.height.toUInt()))
        assertTrue(carnet.renderQrSvg(co3Text()).contains("<svg"))
        try {
            carnet.scanQrFrame(ByteArray(64 * 64) { -1 }, 64u, 64u)
            fail("a blank frame has no code")
        } catch (e: CarnetException.InvalidInput) {
            assertEquals("qr.not_found", e.code)
        }
    }

    @Test
    fun versionMatchesTheCore() {
        assertTrue(coreVersion().matches(Regex("""\d+\.\d+\.\d+.*""")))
    }
}
