public import CaseLedgerLog
public import Foundation
import Synchronization

/// A fresh directory under the system's temporary folder, removed by `remove()` (or by `withTemporaryDirectory`).
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "caseledger-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards, whatever happens.
public func withTemporaryDirectory<R>(_ body: (TemporaryDirectory) async throws -> R) async throws -> R {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// A clock that returns a set time, advanced by hand.
public final class ManualClock: EventClock {
    private let current: Mutex<Timestamp>

    public init(_ start: Timestamp = Timestamp(microsecondsSinceEpoch: 1_767_225_600_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    public func set(_ time: Timestamp) { current.withLock { $0 = time } }

    public func advance(microseconds: Int64) {
        current.withLock { $0.microsecondsSinceEpoch += microseconds }
    }
}

/// Builders for test events.
public enum Fixtures {
    public static let mediator = EventActor(userID: "u-1001", role: "mediator", unit: "510124101001")

    /// An event with a recognisable payload.
    public static func event(_ type: String = "CaseRegistered", payload: String = "{}", actor: EventActor = mediator)
        -> NewEvent
    {
        NewEvent(
            type: type, actor: actor, correlationID: UUID(), metadata: Array(#"{"channel":"window"}"#.utf8),
            payload: Array(payload.utf8))
    }

    /// `count` events with payloads `prefix-0`, `prefix-1`, …
    public static func events(_ count: Int, prefix: String = "p") -> [NewEvent] {
        (0..<count).map { event(payload: "\(prefix)-\($0)") }
    }

    /// A log configuration with a manual clock and small map for tests.
    public static func configuration(clock: ManualClock = ManualClock()) -> LMDBEventLog.Configuration {
        var configuration = LMDBEventLog.Configuration()
        configuration.clock = clock
        configuration.initialMapSize = 1 << 20
        configuration.crossProcessPollInterval = .milliseconds(50)
        return configuration
    }
}

/// Opens a fresh log in a temporary directory, runs `body`, then closes the log and removes the directory.
public func withTemporaryLog<R>(
    configuration: LMDBEventLog.Configuration = Fixtures.configuration(),
    _ body: (LMDBEventLog, TemporaryDirectory) async throws -> R
) async throws -> R {
    try await withTemporaryDirectory { directory in
        let log = try LMDBEventLog.open(at: directory.appending("store"), configuration: configuration)
        defer { log.close() }
        return try await body(log, directory)
    }
}

/// Reads a whole file (for comparing a store's bytes before and after an operation).
public func fileBytes(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

/// Replaces every occurrence of `marker` in the file by the same bytes with one byte flipped; returns how many
/// occurrences it changed. Used to damage a store on disk the way a careless editor or bad sector would.
@discardableResult
public func flipByte(in path: String, inside marker: [UInt8], at offset: Int = 0) throws -> Int {
    var data = try fileBytes(path)
    var changed = 0
    var searchStart = data.startIndex
    while let range = data.range(of: Data(marker), in: searchStart..<data.endIndex) {
        data[range.lowerBound + offset] ^= 0x20
        changed += 1
        searchStart = range.upperBound
    }
    try data.write(to: URL(fileURLWithPath: path))
    return changed
}
