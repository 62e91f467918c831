import CaseLedger
import CaseLedgerLog
import CaseLedgerWorkflow
import Foundation
import Logging
import Testing
import _CaseLedgerTestSupport

@testable import CaseLedgerProjections

/// Records stored with an older payload schema are upcast on read: the workflow and projections see the current
/// shape only.
@Suite struct UpcastingTests {
    /// Schema 0 of every workflow event: the same record with `at` named `time` and `actor` named `by`.
    static func schema0(_ record: WorkflowRecord) throws -> [UInt8] {
        let current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any] ?? [:]
        var old = current
        old["time"] = old.removeValue(forKey: "at")
        old["by"] = old.removeValue(forKey: "actor")
        return Array(try JSONSerialization.data(withJSONObject: old, options: [.sortedKeys]))
    }

    static func upcaster(for type: String) -> Upcaster {
        Upcaster(type: type, fromVersion: 0) { metadata, payload in
            var object = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] ?? [:]
            object["at"] = object.removeValue(forKey: "time")
            object["actor"] = object.removeValue(forKey: "by")
            return (metadata, Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])))
        }
    }

    /// JSON decoding would read an event of another schema version whenever its fields happen to match: the engine
    /// and the views refuse every event that is not, after the upcasters, in the version this release writes.
    @Test func eventsInASchemaThisReleaseDoesNotReadAreRefusedNotMisread() async throws {
        var h = WorkflowHarness(
            now: County.at(2025, 3, 3), calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        for id: CaseID in ["older", "newer", "current"] {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: id, by: "m-v1")
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
        }
        try await withTemporaryLog { log, _ in
            // The same payloads in every case; only the last event's stored version differs.
            for (id, shift) in [("newer", 1), ("older", -1), ("current", 0)] as [(CaseID, Int64)] {
                let records = h.histories[id] ?? []
                let events = try records.enumerated().map { index, record in
                    let version = Int64(record.event.schemaVersion) + (index == records.count - 1 ? shift : 0)
                    return NewEvent(
                        type: record.event.name, schemaVersion: UInt32(version),
                        actor: EventActor(userID: record.actor.rawValue, role: "", unit: "v1"),
                        payload: Array(try JSONEncoder().encode(record)))
                }
                _ = try await log.append(to: "case-\(id.rawValue)", expectedVersion: .noStream, events: events)
            }
            var configuration = CaseEngine.Configuration(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national())
            let engine = CaseEngine(log: log, configuration: configuration, logger: Logger(label: "test"))
            #expect(try engine.history(of: "current") == h.histories["current"])
            for (id, says) in [("older", "older than version 1"), ("newer", "written by a newer CaseLedger")] {
                let error = try #require(throws: WorkflowError.self) { try engine.history(of: CaseID(id)) }
                #expect(error.code == .unsupportedSchema && error.message.contains(says), "\(error)")
                #expect(error.message.contains("position") && error.message.contains("mediationStarted"))
            }

            // An upcaster from the current version would rewrite every event this release writes.
            configuration.upcasters = UpcasterChain([
                Upcaster(type: "mediationStarted", fromVersion: 1) { metadata, payload in (metadata, payload) }
            ])
            let misconfigured = CaseEngine(log: log, configuration: configuration, logger: Logger(label: "test"))
            let error = try #require(throws: WorkflowError.self) { try misconfigured.history(of: "current") }
            #expect(error.code == .unsupportedSchema && error.message.contains("past version 1"), "\(error)")

            // A view that decodes the payload stops at the first of them (the newer event) instead of reading it.
            let runtime = try ProjectionRuntime(
                log: log, projections: [(RecordsProjection(), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try runtime.catchUp()
            let newer = try #require(
                try log.read(stream: "case-newer", from: .max, direction: .backwards, limit: 1).first)
            let status = try #require(try runtime.status().first)
            #expect(status.failedAt == newer.position, "\(status)")
            #expect(status.failure?.contains("schema version 2") == true, "\(status)")
        }
    }

    /// An upcaster from the last schema version there is cannot produce a next one: a typed error, not a trap.
    @Test func anUpcasterFromTheLastVersionIsRefused() throws {
        let chain = UpcasterChain([Upcaster(type: "t", fromVersion: .max) { metadata, payload in (metadata, payload) }])
        let error = try #require(throws: EventLogError.self) {
            _ = try chain.upcast(type: "t", schemaVersion: .max, metadata: [], payload: [])
        }
        #expect(error.code == .invalidRequest, "\(error)")
    }

    /// Counts the case events it decodes through the views' own payload decoding (``EventView/workflowRecord()``).
    struct RecordsProjection: Projection {
        let name = "records"
        let version = 1
        let tables = ["count"]
        func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
            guard event.streamID.hasPrefix("case-") else { return }
            _ = try view.workflowRecord(event)
            let count = try view.value(in: "count", key: [0]).map { Int($0[0]) } ?? 0
            try view.put(in: "count", key: [0], value: [UInt8(count + 1)])
        }
    }

    /// Reads each case event's payload as the current schema; throws when `at` is missing.
    struct TimesProjection: Projection {
        let name = "times"
        let version = 1
        let tables = ["last"]
        struct OldShape: Error {}
        func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
            guard event.streamID.hasPrefix("case-") else { return }
            let record = try event.withPayload { try JSONDecoder().decode(WorkflowRecord.self, from: Data($0)) }
            guard event.schemaVersion == 1 else { throw OldShape() }
            try view.put(
                in: "last", key: Array(event.streamID.utf8), value: Array(String(record.at.microsecondsSinceEpoch).utf8)
            )
        }
    }

    /// The older store's cases: two mediation cases, one agreed and one failed, run through the current engine.
    static func olderCases() throws -> WorkflowHarness {
        var h = WorkflowHarness(
            now: County.at(2025, 3, 3), calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        for id: CaseID in ["old1", "old2"] {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: id, by: "m-v1")
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
        }
        try h.run(.reachAgreement(form: .oral, terms: "t"), on: "old1", by: "m-v1")
        try h.run(.declareFailure(rightsNotice: "told", suggestedRoute: .civilLitigation), on: "old2", by: "m-v1")
        return h
    }

    /// Writes `h`'s cases to `log` as an older CaseLedger wrote them: schema-0 payloads, no record headers.
    static func writeOlderStore(_ h: WorkflowHarness, to log: LMDBEventLog) async throws {
        for id: CaseID in ["old1", "old2"] {
            let events = try (h.histories[id] ?? []).map { record in
                NewEvent(
                    type: record.event.name, schemaVersion: 0,
                    actor: EventActor(userID: record.actor.rawValue, role: "", unit: "v1"),
                    payload: try Self.schema0(record))
            }
            _ = try await log.append(to: "case-\(id.rawValue)", expectedVersion: .noStream, events: events)
        }
    }

    /// Reads the older store in `log`: without upcasters its records do not decode; with them the workflow replays
    /// the states of `h` and a projection sees schema 1 only.
    static func expectReadInTheCurrentShape(_ log: LMDBEventLog, _ h: WorkflowHarness) throws {
        let types = Set(["old1", "old2"].flatMap { (h.histories[CaseID($0)] ?? []).map(\.event.name) })
        let chain = UpcasterChain(types.sorted().map(Self.upcaster))
        var configuration = CaseEngine.Configuration(
            directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        let plain = CaseEngine(log: log, configuration: configuration, logger: Logger(label: "test"))
        #expect(throws: WorkflowError.self) { _ = try plain.replayState(of: "old1") }
        configuration.upcasters = chain
        let engine = CaseEngine(log: log, configuration: configuration, logger: Logger(label: "test"))
        for id: CaseID in ["old1", "old2"] {
            #expect(try engine.replayState(of: id) == h.state(id))
        }

        // Projections see schema 1 too.
        let runtime = try ProjectionRuntime(
            log: log, projections: [(TimesProjection(), .async)], logger: Logger(label: "test"), upcasters: chain)
        defer { runtime.shutdown() }
        try runtime.catchUp()
        let status = try #require(try runtime.status().first)
        #expect(status.failedAt == nil && status.lag == 0, "\(status)")
        let last = try runtime.read("times") { reader in try reader.value(in: "last", key: Array("case-old1".utf8)) }
        #expect(
            last.map { String(decoding: $0, as: UTF8.self) }
                == String(h.histories["old1"]?.last?.at.microsecondsSinceEpoch ?? 0))
        #expect(try runtime.check("times").isConsistent)
    }

    @Test func aStoreWrittenWithAnOlderSchemaIsReadInTheCurrentShape() async throws {
        let h = try Self.olderCases()
        try await withTemporaryLog { log, directory in
            try await Self.writeOlderStore(h, to: log)
            try Self.expectReadInTheCurrentShape(log, h)
            // Regenerates the kept store below: CASELEDGER_KEEP_OLDER_STORE=DIR writes a compacted copy to DIR.
            if let keep = ProcessInfo.processInfo.environment["CASELEDGER_KEEP_OLDER_STORE"] {
                try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
                _ = try log.backup(to: keep)
            }
        }
    }

    /// The same older store, written once (2026-12-01) and kept in `Fixtures/older-schema-store` as bytes, so that a
    /// change to the record format or the hash chain that this release would no longer read fails here, where a store
    /// written by the current code would pass. The file is copied to a temporary directory and opened there.
    @Test func aKeptStoreWrittenWithAnOlderSchemaIsVerifiedAndRead() async throws {
        let kept = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/older-schema-store/data.mdb").path
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: kept, toPath: store + "/data.mdb")
            let log = try LMDBEventLog.open(at: store, configuration: Fixtures.configuration())
            defer { log.close() }
            let report = try log.verify()
            let h = try Self.olderCases()
            let written = ["old1", "old2"].reduce(0) { $0 + (h.histories[CaseID($1)]?.count ?? 0) }
            #expect(report.isValid && report.eventsChecked == 12 && written == 12, "\(report)")
            try Self.expectReadInTheCurrentShape(log, h)
        }
    }
}
