import CaseLedgerLog
import Foundation

// Child process of the crash-safety test (Tests/CaseLedgerLogTests/CrashSafetyTests.swift).
//
// Usage: caseledger-crash-child STORE-PATH [CONCURRENCY]
//        caseledger-crash-child STORE-PATH --hold-reader
//        caseledger-crash-child STORE-PATH --fill BYTES
//
// Opens the store, then runs CONCURRENCY tasks that append forever under group commit, each to its own stream
// with an exact expected version. After each append returns (its events are durable), it writes one line
// `ok STREAM VERSION FIRST-POSITION COUNT` to standard output with a direct write(2), so a line the parent sees was
// reported only after the commit. The parent kills this process with SIGKILL at a random moment.
//
// With --hold-reader it opens the store, starts a read transaction, writes `reading` and waits inside it until it is
// killed, leaving a stale reader slot behind for the parent to clear.
//
// With --fill it opens the store with a 1 MiB map and appends until the store holds more than BYTES, growing the
// map as it goes, then writes `filled POSITION` and exits: another process with the store open must then adopt
// the larger map.

func report(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let written = write(1, base + offset, buffer.count - offset)
            if written <= 0 { exit(3) }
            offset += written
        }
    }
}

func usage() -> Never {
    FileHandle.standardError.write(
        Data(
            """
            usage: caseledger-crash-child STORE-PATH [CONCURRENCY (1-64)]
                   caseledger-crash-child STORE-PATH --hold-reader
                   caseledger-crash-child STORE-PATH --fill BYTES

            """.utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, arguments.count <= 4 else { usage() }
let path = arguments[1]
// Anything but the three forms is a usage error, never an endless run of appends into the store.
let mode = arguments.count > 2 ? arguments[2] : nil
if mode == "--fill" && (arguments.count != 4 || Int(arguments[3]).map { $0 <= 0 } ?? true) { usage() }
if mode == "--hold-reader" && arguments.count != 3 { usage() }
if let mode, mode != "--fill", mode != "--hold-reader", arguments.count != 3 || !(1...64).contains(Int(mode) ?? 0) {
    usage()
}
let concurrency = mode.flatMap { Int($0) } ?? 16
let generation = UUID().uuidString.prefix(8)

if arguments.count > 2 && arguments[2] == "--hold-reader" {
    do {
        let log = try LMDBEventLog.open(at: path, mode: .readOnly)
        try log.forEachEvent(from: 1) { _ in
            report("reading")
            sleep(120)
            return false
        }
    } catch {
        FileHandle.standardError.write(Data("caseledger-crash-child: \(error)\n".utf8))
    }
    exit(1)
}

if arguments.count > 3 && arguments[2] == "--fill", let target = Int(arguments[3]) {
    do {
        var configuration = LMDBEventLog.Configuration()
        configuration.initialMapSize = 1 << 20
        let log = try LMDBEventLog.open(at: path, configuration: configuration)
        let actor = EventActor(userID: "fill-child", role: "system", unit: "000000000000")
        let payload = Array(String(repeating: "f", count: 4000).utf8)
        var round = 0
        while try log.storageInfo().usedBytes < target {
            round += 1
            _ = try await log.append(
                to: "fill-\(round % 10)",
                events: (0..<20).map { _ in NewEvent(type: "Filler", actor: actor, payload: payload) })
        }
        report("filled \(try log.head().position)")
        log.close()
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("caseledger-crash-child: \(error)\n".utf8))
        exit(1)
    }
}

do {
    let log = try LMDBEventLog.open(at: path)
    report("ready")
    let actor = EventActor(userID: "crash-child", role: "system", unit: "000000000000")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                let stream = "worker-\(worker)"
                var version = try log.version(ofStream: stream)
                var round = 0
                while true {
                    round += 1
                    let count = 1 + (round + worker) % 3
                    let events = (0..<count).map { index in
                        NewEvent(
                            type: "CrashProbe", actor: actor,
                            payload: Array("{\"gen\":\"\(generation)\",\"round\":\(round),\"i\":\(index)}".utf8))
                    }
                    let result = try await log.append(
                        to: stream, expectedVersion: .exact(Int64(version)), events: events,
                        idempotencyKey: "\(generation)-\(worker)-\(round)")
                    version += UInt64(count)
                    report("ok \(stream) \(version) \(result.positions.lowerBound) \(count)")
                }
            }
        }
        try await group.waitForAll()
    }
} catch {
    FileHandle.standardError.write(Data("caseledger-crash-child: \(error)\n".utf8))
    exit(1)
}
