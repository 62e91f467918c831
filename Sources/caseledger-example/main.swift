import CaseLedgerLog
import Foundation

// The README's main job until the `caseledger` tool exists: open (or create) an embedded LMDB store, append a
// small mediation case across two streams, read it back, and verify the whole log's hash chain.
let arguments = CommandLine.arguments.dropFirst()
let path = arguments.first ?? FileManager.default.temporaryDirectory.appendingPathComponent("caseledger-example").path

do {
    let log = try LMDBEventLog.open(at: path)
    defer { log.close() }
    let caseID = "case-\(UUID().uuidString.prefix(8))"
    let mediator = EventActor(userID: "u-0042", role: "mediator", unit: "510124101001")
    func event(_ type: String, _ payload: String) -> NewEvent {
        NewEvent(type: type, actor: mediator, payload: Array(payload.utf8))
    }
    let registered = try await log.append(
        to: caseID, expectedVersion: .noStream,
        events: [
            event("CaseRegistered", #"{"kind":"peoplesMediation","channel":"window","dispute":"neighbour"}"#),
            event("CaseAssigned", #"{"unit":"510124101001","person":"u-0042"}"#),
        ], idempotencyKey: "\(caseID)/register")
    print("appended \(caseID) at positions \(registered.positions)")

    // Concurrent appenders share one durable commit (group commit).
    try await withThrowingTaskGroup(of: AppendResult.self) { group in
        for index in 0..<32 {
            group.addTask {
                try await log.append(to: "\(caseID)-note-\(index)", events: [event("NoteAdded", #"{"n":\#(index)}"#)])
            }
        }
        for try await _ in group {}
    }

    for try await recorded in log.events(inStream: caseID) {
        print("  v\(recorded.streamVersion) #\(recorded.position) \(recorded.type) at \(recorded.recordedAt)")
    }
    let report = try log.verify()
    let head = report.head.chainHash.hex.prefix(16)
    if let failure = report.failure {
        print("verify FAILED: \(failure)")
        exit(1)
    }
    print("verified \(report.eventsChecked) events in \(report.streamsChecked) streams; head \(head)… at \(path)")
} catch {
    FileHandle.standardError.write(Data("caseledger-example: \(error)\n".utf8))
    exit(1)
}
