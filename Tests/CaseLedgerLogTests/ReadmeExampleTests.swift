import CaseLedgerLog
import Testing
import _CaseLedgerTestSupport

/// The calls of the README's embedding example, with a temporary path and the printed values collected, so the
/// example stays true.
@Suite struct ReadmeExampleTests {
    @Test func theEmbeddingExampleRuns() async throws {
        try await withTemporaryDirectory { directory in
            var seen: [(UInt64, String)] = []
            var tampered = false
            // --- README example, with the path replaced ---
            let log = try LMDBEventLog.open(at: directory.appending("jingyan"))  // creates the store if needed
            defer { log.close() }
            let mediator = EventActor(userID: "u-0042", role: "mediator", unit: "510124101001")
            let registered = NewEvent(
                type: "CaseRegistered", actor: mediator, payload: Array(#"{"channel":"12348"}"#.utf8))
            let result = try await log.append(
                to: "case-2026-000123", expectedVersion: .noStream, events: [registered],
                idempotencyKey: "intake-77812")
            print("stored at position \(result.positions.lowerBound)")  // durable when append returns
            for try await event in log.events(inStream: "case-2026-000123") {
                seen.append((event.streamVersion, event.type))
            }
            let report = try log.verify()  // hash chain, sequences, index
            if let failure = report.failure { print("tampered: \(failure)"); tampered = true }
            // --- end of the example ---
            #expect(result.positions == 1...1)
            #expect(seen.map(\.0) == [1])
            #expect(seen.map(\.1) == ["CaseRegistered"])
            #expect(!tampered)
        }
    }
}
