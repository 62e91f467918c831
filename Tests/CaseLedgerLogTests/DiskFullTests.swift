import CaseLedgerLog
import Foundation
import Testing
import _CaseLedgerTestSupport

/// A small tmpfs, mounted for one test, to run out of disk for real. Needs root (or CAP_SYS_ADMIN); the test is
/// skipped, visibly, where mounting is not allowed.
enum SmallFileSystem {
    static func run(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static func mount(at path: String, bytes: Int) -> Bool {
        run(["mount", "-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path])
    }

    static func unmount(_ path: String) { _ = run(["umount", path]) }

    /// Whether this process may mount a tmpfs (tried once).
    static let available: Bool = {
        guard let directory = try? TemporaryDirectory(prefix: "caseledger-mount-probe") else { return false }
        defer { directory.remove() }
        guard mount(at: directory.path, bytes: 1 << 20) else { return false }
        unmount(directory.path)
        return true
    }()
}

@Suite struct DiskFullTests {
    @Test(.enabled(if: SmallFileSystem.available, "mounting a tmpfs needs root"))
    func aFullDiskFailsTheAppendWithATypedErrorAndWritesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let mountPoint = directory.appending("small")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try #require(SmallFileSystem.mount(at: mountPoint, bytes: 512 << 10))
            defer { SmallFileSystem.unmount(mountPoint) }

            var configuration = Fixtures.configuration()
            configuration.initialMapSize = 8 << 20  // the map is larger than the disk: the disk fills first
            let log = try LMDBEventLog.open(at: mountPoint + "/store", configuration: configuration)
            defer { log.close() }
            let (appended, failure) = await appendUntilFailure(log, payloadBytes: 2000, eventsPerAppend: 10)
            #expect(failure?.code == .diskFull)
            #expect(failure?.message.contains("disk is full") == true)
            #expect(try log.head().position == UInt64(appended * 10), "the failed append left nothing behind")
            #expect(try log.verify().isValid)
        }
    }

    @Test(.enabled(if: SmallFileSystem.available, "mounting a tmpfs needs root"))
    func aBackupToAFullDiskFailsAndLeavesNoHalfWrittenCopy() async throws {
        try await withTemporaryLog { log, directory in
            let (appended, _) = await appendUntilFailure(log, payloadBytes: 2000, eventsPerAppend: 10, limit: 100)
            #expect(appended == 100)
            let mountPoint = directory.appending("small")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try #require(SmallFileSystem.mount(at: mountPoint, bytes: 256 << 10))  // smaller than the ~2 MB store
            defer { SmallFileSystem.unmount(mountPoint) }

            #expect {
                try log.backup(to: mountPoint + "/backup")
            } throws: { ($0 as? EventLogError)?.code == .diskFull }
            #expect(!FileManager.default.fileExists(atPath: mountPoint + "/backup/data.mdb"))
            #expect(try log.verify().isValid, "the log itself is untouched")
        }
    }
}
