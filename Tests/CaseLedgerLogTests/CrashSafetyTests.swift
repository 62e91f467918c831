import CaseLedgerLMDB
import CaseLedgerLog
import Foundation
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// Kills a child process that appends under group commit with SIGKILL at random moments, and checks after each kill
/// that everything the child reported durable is there, without gaps, and that the hash chain verifies.
///
/// The normal suite runs 20 kills; set `CASELEDGER_CRASH_ITERATIONS` (e.g. 500) for a longer run, and
/// `CASELEDGER_CRASH_SEED` to repeat a run.
@Suite struct CrashSafetyTests {
    struct Reported: Hashable {
        var stream: String
        var version: UInt64
        var firstPosition: UInt64
        var count: UInt64
    }

    /// The child executable, built beside the test bundle.
    static var childPath: String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(
            "caseledger-crash-child"
        ).path
    }

    /// Runs the child until it has reported `minimumReports` appends plus a random delay, then SIGKILLs it.
    /// Returns the appends it reported as durable.
    static func runAndKill(store: String, delayMicroseconds: UInt32, minimumReports: Int, verifySnapshot: Bool) throws
        -> [Reported]
    {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: childPath)
        child.arguments = [store, "24"]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = FileHandle.standardError
        try child.run()
        // A watchdog: a hung child is killed after a minute, so reading its output below cannot hang the suite.
        let pid = child.processIdentifier
        let reaped = Reaped()
        defer { reaped.mark() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) {
            reaped.unlessMarked { kill(pid, SIGKILL) }  // never a recycled pid: only while the child is unreaped
        }

        // Read the child's reports on this thread until enough have arrived, then kill at a random moment.
        let reader = output.fileHandleForReading
        var buffer = Data()
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while lines.filter({ $0.hasPrefix("ok ") }).count < minimumReports && Date() < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // the child exited
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: 0x0a) {
                lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
        }
        // A reader in this process runs alongside the child's writer: it sees a consistent snapshot (that verifies,
        // checked on some kills only: the store grows while a full verify runs). Only once the child has reported an
        // append: with no report asked for, the first child may not have created the store yet.
        if child.isRunning, lines.contains(where: { $0.hasPrefix("ok ") }) {
            let reader = try LMDBEventLog.open(at: store, mode: .readOnly)
            defer { reader.close() }
            if verifySnapshot {
                #expect(try reader.verify().isValid, "a snapshot read while another process appends verifies")
            } else {
                let head = try reader.head()
                let last = try reader.read(from: head.position, direction: .forwards, limit: 1).first
                #expect(last?.chainHash == head.chainHash || head.position == 0)
            }
        }
        usleep(delayMicroseconds)
        reaped.unlessMarked { kill(child.processIdentifier, SIGKILL) }
        child.waitUntilExit()
        reaped.mark()
        // Everything the child wrote before it died: only complete lines count.
        buffer.append(reader.readDataToEndOfFile())
        while let newline = buffer.firstIndex(of: 0x0a) {
            lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
        #expect(child.terminationReason == .uncaughtSignal, "the child was killed, it did not fail on its own")
        return lines.compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == "ok", let version = UInt64(fields[2]),
                let position = UInt64(fields[3]), let count = UInt64(fields[4])
            else { return nil }
            return Reported(stream: String(fields[1]), version: version, firstPosition: position, count: count)
        }
    }

    @Test func everyReportedAppendSurvivesSIGKILL() async throws {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["CASELEDGER_CRASH_ITERATIONS"].flatMap(Int.init) ?? 20
        let seed = environment["CASELEDGER_CRASH_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        #expect(FileManager.default.isExecutableFile(atPath: Self.childPath), "child built at \(Self.childPath)")

        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            var reportedTotal = 0
            for iteration in 0..<iterations {
                let delay = UInt32(random.next() % 40_000)  // 0–40 ms after the child is under load
                let minimum = Int(random.next() % 50)
                let reported = try Self.runAndKill(
                    store: store, delayMicroseconds: delay, minimumReports: minimum, verifySnapshot: iteration % 5 == 0)
                reportedTotal += reported.count
                // A first child killed before it created the store (no report was asked for) left nothing to check.
                if reported.isEmpty, !FileManager.default.fileExists(atPath: store + "/data.mdb") { continue }

                let log = try LMDBEventLog.open(at: store, mode: .readOnly)
                defer { log.close() }
                let report = try log.verify()
                #expect(report.isValid, "seed \(seed), kill \(iteration): \(String(describing: report.failure))")
                for append in reported {
                    let events = try log.read(
                        stream: append.stream, from: append.version - append.count + 1, direction: .forwards,
                        limit: Int(append.count))
                    #expect(
                        events.map(\.position) == Array(append.firstPosition..<(append.firstPosition + append.count)),
                        "seed \(seed), kill \(iteration): \(append) lost")
                    #expect(events.last?.streamVersion == append.version)
                }
                // Positions are gap-free: the head equals the number of events, and every stream's versions
                // are 1…n (verify checks both; this is the direct count).
                #expect(report.head.position == report.eventsChecked)
            }
            #expect(reportedTotal > 0, "the child reported appends before being killed (seed \(seed))")
        }
    }
}

/// A reader slot left by a process that died inside a read transaction is found and cleared.
@Suite struct StaleReaderTests {
    @Test func aKilledReadersSlotIsCleared() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let log = try LMDBEventLog.open(at: store, configuration: Fixtures.configuration())
            _ = try await log.append(to: "a", events: [Fixtures.event()])
            log.close()

            let child = Process()
            child.executableURL = URL(fileURLWithPath: CrashSafetyTests.childPath)
            child.arguments = [store, "--hold-reader"]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            var seen = Data()
            while !String(decoding: seen, as: UTF8.self).contains("reading") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen.append(chunk)
            }
            #expect(String(decoding: seen, as: UTF8.self).contains("reading"), "the child holds a read transaction")

            let env = try Environment.open(path: store)  // clears nothing: the reader's process is alive
            defer { env.close() }
            #expect(try env.clearStaleReaders() == 0)
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(try env.clearStaleReaders() == 1, "the dead process's reader slot is cleared")
            #expect(try env.clearStaleReaders() == 0)
        }
    }
}

/// When another process grows the map past this process's mapping, reads and appends here adopt the new size
/// (LMDB's `MDB_MAP_RESIZED`) instead of failing.
@Suite struct CrossProcessGrowthTests {
    @Test func aMapGrownByAnotherProcessIsAdopted() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            var configuration = Fixtures.configuration()
            configuration.initialMapSize = 1 << 20
            let log = try LMDBEventLog.open(at: store, configuration: configuration)
            defer { log.close() }
            _ = try await log.append(to: "local", events: [Fixtures.event()])
            let before = try log.storageInfo().mapSize

            let child = Process()
            child.executableURL = URL(fileURLWithPath: CrashSafetyTests.childPath)
            child.arguments = [store, "--fill", "\(8 << 20)"]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            let reported = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            #expect(child.terminationStatus == 0, "the child filled the store: \(reported)")
            let filled = try #require(
                reported.split(separator: " ").last.flatMap {
                    UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
                })

            // This process still maps 1 MiB; the file is now larger. Reading and appending must adopt the new size.
            #expect(try log.head().position == filled)
            #expect(try log.read(from: filled, direction: .forwards, limit: 1).first?.type == "Filler")
            _ = try await log.append(to: "local", events: [Fixtures.event()])
            #expect(try log.storageInfo().mapSize > before)
            #expect(try log.verify().isValid)
        }
    }
}

/// Two processes create one store at the same moment and append to the same streams: the store is created once,
/// both processes' appends land, and the chain and the version sequences hold.
@Suite struct TwoWriterProcessesTests {
    @Test func twoProcessesCreateAndAppendToOneStore() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let children = (0..<2).map { _ in
                let child = Process()
                child.executableURL = URL(fileURLWithPath: CrashSafetyTests.childPath)
                child.arguments = [store, "--fill", "\(4 << 20)"]
                child.standardOutput = Pipe()
                return child
            }
            for child in children { try child.run() }  // both open a store that does not exist yet
            for child in children { child.waitUntilExit() }
            #expect(children.map(\.terminationStatus) == [0, 0])

            let log = try LMDBEventLog.open(at: store, mode: .readOnly)
            defer { log.close() }
            let report = try log.verify()
            #expect(report.isValid, "\(String(describing: report.failure))")
            #expect(report.streamsChecked == 10)
            // Each child appended at least until the store held 4 MiB; together they wrote every position.
            #expect(report.eventsChecked == report.head.position)
            #expect(try log.storageInfo().usedBytes >= 4 << 20)
        }
    }
}

/// A small seeded generator so a failing run can be repeated with CASELEDGER_CRASH_SEED.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whether a child process was reaped, so a watchdog never signals a recycled pid.
final class Reaped: Sendable {
    private let state = Mutex(false)
    func mark() { state.withLock { $0 = true } }
    func unlessMarked(_ body: () -> Void) {
        state.withLock { reaped in if !reaped { body() } }
    }
}
