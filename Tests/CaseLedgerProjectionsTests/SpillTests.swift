import Foundation
import Testing
import _CaseLedgerTestSupport

@testable import CaseLedgerProjections

/// The pieces of the bulk pass's spill: how buckets are grouped into partitions, and the files it writes and reads.
@Suite struct SpillTests {
    /// A bucket of one file that counted `registrations` registrations among `events` events.
    static func bucket(_ registrations: Int, events: Int? = nil, _ name: String = "") -> [SpillFile] {
        [SpillFile(path: name, bytes: 0, events: events ?? registrations * 7, registrations: registrations)]
    }

    static func weights(_ partition: ProjectionRuntime.SpilledPartition) -> Int {
        partition.buckets.joined().reduce(0) { $0 + $1.registrations }
    }

    /// The 10M-event caseload's shape: 123 buckets of about 8,130 registrations. The partitions come out a multiple
    /// of the threads, each under the capacity and within a bucket of an equal share, with every bucket in one of
    /// them, in order.
    @Test func bucketsAreGroupedIntoEvenPartitionsUnderTheCapacity() {
        let buckets = (0..<123).map { Self.bucket(8_000 + ($0 * 37) % 300, "b\($0)") }
        let partitions = ProjectionRuntime.groups(buckets, capacity: 81_920, threads: 2)
        #expect(partitions.count % 2 == 0)
        let sums = partitions.map(Self.weights)
        #expect(sums.allSatisfy { $0 <= 81_920 }, "\(sums)")
        let share = sums.reduce(0, +) / max(1, sums.count)
        #expect(sums.allSatisfy { abs($0 - share) < 8_300 }, "each within a bucket of its share \(share): \(sums)")
        #expect(partitions.flatMap { $0.buckets.joined().map(\.path) } == buckets.joined().map(\.path))
    }

    /// Without a registration counted anywhere, the events weigh the buckets instead.
    @Test func withoutRegistrationsTheEventsWeighTheBuckets() {
        let buckets = [10, 10, 10, 10, 1_000, 10, 10, 10].enumerated().map {
            Self.bucket(0, events: $0.element, "b\($0.offset)")
        }
        let partitions = ProjectionRuntime.groups(buckets, capacity: 2_000, threads: 2)
        #expect(partitions.count == 2)
        let events = partitions.map { $0.buckets.joined().reduce(0) { $0 + $1.events } }
        // Cut where the running sum is nearest half of all (535): before the heavy bucket (40), not after it (1,040).
        #expect(events == [40, 1_030], "\(events)")
    }

    /// Every partition gets a bucket even when the weight sits in the last one, and one bucket is one partition.
    @Test func everyPartitionHoldsABucket() {
        let skewed = ProjectionRuntime.groups([0, 0, 0, 100].map { Self.bucket($0) }, capacity: 50, threads: 2)
        #expect(skewed.count == 4 && skewed.allSatisfy { $0.buckets.count == 1 })
        let lone = ProjectionRuntime.groups([Self.bucket(5)], capacity: 50, threads: 2)
        #expect(lone.count == 1)
        #expect(ProjectionRuntime.groups([], capacity: 50, threads: 2).isEmpty)
    }

    /// The room check counts the free space in bytes: nothing asked fits anywhere, half of all addressable bytes
    /// fits nowhere, and an amount past the free space by the margin is refused with the figures.
    @Test func theRoomCheckRefusesASpillTheDiskCannotHold() async throws {
        try await withTemporaryDirectory { directory in
            try SpillDirectory.requireRoom(in: directory.path, for: 0, margin: 0, store: directory.path)
            #expect {
                try SpillDirectory.requireRoom(in: directory.path, for: Int.max / 2, margin: 0, store: directory.path)
            } throws: { error in
                "\(error)".contains("MiB free; the spill needs about")
            }
            var system = statvfs()
            #expect(statvfs(directory.path, &system) == 0)
            let free = Int(system.f_bavail) * Int(system.f_frsize)
            // What is free fits with no margin; with a margin of a mebibyte more than the rest, it does not.
            try SpillDirectory.requireRoom(in: directory.path, for: free / 2, margin: 0, store: directory.path)
            #expect(throws: SpillError.self) {
                try SpillDirectory.requireRoom(
                    in: directory.path, for: free / 2, margin: free - free / 2 + (1 << 20), store: directory.path)
            }
            #expect(throws: SpillError.self) {
                try SpillDirectory.requireRoom(
                    in: directory.appending("missing"), for: 0, margin: 0, store: directory.path)
            }
        }
    }

    /// What a spill writer writes, its reader reads back in order, and a file whose size changed is refused.
    @Test func spillRecordsReadBackAsWrittenAndAChangedFileIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let spill = try SpillDirectory(in: directory.path)
            defer { spill.remove() }
            var writer = SpillWriter(files: [spill.file("a"), spill.file("b")], memory: 64)
            for n in 0..<500 {
                let id = Array("c\(n % 7)".utf8)
                let metadata = [UInt8](repeating: UInt8(n % 251), count: n % 40)
                id.withUnsafeBytes { id in
                    Array("t".utf8).withUnsafeBytes { type in
                        metadata.withUnsafeBytes { metadata in
                            writer.add(
                                to: n % 2, position: UInt64(n + 1), quickHash: n * 3, id: id, type: type,
                                metadata: metadata, registration: n % 5 == 0)
                        }
                    }
                }
            }
            let files = try writer.finish()
            #expect(files.map(\.events) == [250, 250] && files.map(\.registrations) == [50, 50])
            var positions: [UInt64] = []
            for file in files {
                _ = try SpillDirectory.forEachRecord(in: file) { position, hash, id, _, metadata in
                    let n = Int(position) - 1
                    #expect(hash == n * 3 && Array(id) == Array("c\(n % 7)".utf8) && metadata.count == n % 40)
                    positions.append(position)
                    return true
                }
            }
            let odd = (0..<250).map { UInt64(2 * $0 + 1) }
            let even = (0..<250).map { UInt64(2 * $0 + 2) }
            #expect(positions == odd + even)
            truncate(files[0].path, off_t(files[0].bytes - 1))
            #expect(throws: SpillError.self) {
                try SpillDirectory.forEachRecord(in: files[0]) { _, _, _, _, _ in true }
            }
        }
    }

    /// Row files merge into one stream in key order; the same key in two files is an error, not a row dropped.
    @Test func rowFilesMergeInKeyOrderAndRefuseAKeyTwice() async throws {
        try await withTemporaryDirectory { directory in
            func file(_ name: String, _ keys: [String]) throws -> SpillFile {
                var writer = RowFileWriter(path: directory.appending(name))
                for key in keys {
                    try Array(key.utf8).withUnsafeBytes { key in
                        try Array("v-\(name)".utf8).withUnsafeBytes { value in try writer.add(key, value) }
                    }
                }
                return try writer.finish()
            }
            let merge = try RowFileMerge([
                try file("1", ["a", "c", "e"]), try file("2", []), try file("3", ["b", "d", "f", "g"]),
            ])
            var rows: [String] = []
            while try merge.next({ key, value in
                rows.append(String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
            }) {}
            #expect(rows == ["a=v-1", "b=v-3", "c=v-1", "d=v-3", "e=v-1", "f=v-3", "g=v-3"])
            let twice = try RowFileMerge([try file("4", ["a", "b"]), try file("5", ["b"])])
            #expect(try twice.next({ _, _ in }))
            #expect(throws: SpillError.self) { try twice.next({ _, _ in }) }
        }
    }
}
