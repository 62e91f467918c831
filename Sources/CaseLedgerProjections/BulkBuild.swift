import CaseLedgerLMDB
import CaseLedgerLog
import CaseLedgerWorkflow
import Dispatch
import Foundation
import Logging
import Synchronization

/// A flag threads of one pass set and read without a lock.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    static let message = "another segment of the spill failed"
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

extension [UInt8] {
    /// Appends raw bytes with one copy (as bytes: the memory is bound to `UInt8`, which changes nothing in it).
    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    /// Appends an integer's bytes in the host's byte order.
    @inline(__always)
    mutating func appendNative<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value) { appendBytes($0) }
    }

    /// Appends an integer's bytes, most significant first.
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { appendBytes($0) }
    }
}

/// Rows for one table in one byte arena, sorted as LMDB orders keys: a bulk rebuild's output before it is written.
struct RowRun: Sendable {
    struct Row: Sendable {
        var start: Int
        var keyLength: Int32
        var valueLength: Int32
        /// The key's first 8 bytes, big-endian, zero-padded: orders most pairs of rows without reading the arena.
        var prefix: UInt64
    }
    private(set) var bytes: [UInt8] = []
    private(set) var rows: [Row] = []
    /// The longest key added.
    private(set) var longestKey = 0

    mutating func reserve(rows count: Int, bytes size: Int) {
        rows.reserveCapacity(count)
        bytes.reserveCapacity(size)
    }

    /// Adds a row whose key and value the closures append to the arena.
    mutating func add(_ key: (inout [UInt8]) -> Void, _ value: (inout [UInt8]) -> Void) {
        let start = bytes.count
        key(&bytes)
        let keyEnd = bytes.count
        longestKey = max(longestKey, keyEnd - start)
        let prefix = bytes.withUnsafeBytes { Self.prefix(UnsafeRawBufferPointer(rebasing: $0[start..<keyEnd])) }
        value(&bytes)
        rows.append(
            Row(
                start: start, keyLength: Int32(truncatingIfNeeded: keyEnd - start),
                valueLength: Int32(truncatingIfNeeded: bytes.count - keyEnd), prefix: prefix))
    }

    /// A key's first 8 bytes as a big-endian number, zero-padded. Two keys whose prefixes differ are ordered as their
    /// prefixes; equal prefixes need the whole keys compared.
    static func prefix(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: key.prefix(8))) }
        return UInt64(bigEndian: value)
    }

    /// Whether row `a` sorts before row `b` (`raw` is the arena).
    static func precedes(_ a: Row, _ b: Row, _ raw: UnsafeRawBufferPointer) -> Bool {
        if a.prefix != b.prefix { return a.prefix < b.prefix }
        return ByteInterner.compare(
            UnsafeRawBufferPointer(rebasing: raw[a.start..<(a.start + Int(a.keyLength))]),
            UnsafeRawBufferPointer(rebasing: raw[b.start..<(b.start + Int(b.keyLength))])) < 0
    }

    /// The rows of `runs` (each in key order) merged into key order: (run, row) pairs, smallest key first.
    static func merged(_ runs: [RowRun]) -> [(run: Int32, row: Int32)] {
        var order: [(run: Int32, row: Int32)] = []
        order.reserveCapacity(runs.reduce(0) { $0 + $1.rows.count })
        var heads = [Int](repeating: 0, count: runs.count)
        while true {
            var best: Int?
            for index in runs.indices where heads[index] < runs[index].rows.count {
                guard let current = best else {
                    best = index
                    continue
                }
                let (mine, theirs) = (runs[index].rows[heads[index]], runs[current].rows[heads[current]])
                let less =
                    mine.prefix != theirs.prefix
                    ? mine.prefix < theirs.prefix
                    : runs[index].withRow(heads[index]) { key, _ in
                        runs[current].withRow(heads[current]) { other, _ in ByteInterner.compare(key, other) < 0 }
                    }
                if less { best = index }
            }
            guard let chosen = best else { break }
            order.append((Int32(chosen), Int32(heads[chosen])))
            heads[chosen] += 1
        }
        return order
    }

    /// Sorts the rows by key and keeps the first of rows with equal keys.
    mutating func sortAndMerge() {
        let arena = bytes
        arena.withUnsafeBytes { raw in
            func key(_ row: Row) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: raw[row.start..<(row.start + Int(row.keyLength))])
            }
            rows.sort { Self.precedes($0, $1, raw) }
            var kept = 0
            for index in rows.indices {
                if kept > 0, rows[kept - 1].prefix == rows[index].prefix,
                    ByteInterner.compare(key(rows[kept - 1]), key(rows[index])) == 0
                {
                    continue
                }
                rows[kept] = rows[index]
                kept += 1
            }
            rows.removeLast(rows.count - kept)
        }
    }

    /// Row `index`'s key and value, valid only inside `body`.
    func withRow<R>(_ index: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let row = rows[index]
        return try bytes.withUnsafeBytes { raw in
            let keyEnd = row.start + Int(row.keyLength)
            return try body(
                UnsafeRawBufferPointer(rebasing: raw[row.start..<keyEnd]),
                UnsafeRawBufferPointer(rebasing: raw[keyEnd..<(keyEnd + Int(row.valueLength))]))
        }
    }
}

/// The tables a bulk rebuild writes, by view: `nil` for a view not being rebuilt.
struct BulkTargets: Sendable {
    /// Tables whose rows come from the cases (the monthly counters are summed over all partitions instead).
    enum Table: Int, CaseIterable {
        case cases, open, due, byCase, caseMeta, byPerson, byUnit, casePeople, parties
    }
    var databases: [Database?] = Array(repeating: nil, count: Table.allCases.count)
    var months: Database?
    var repeatDisputes: RepeatDisputesProjection?

    subscript(_ table: Table) -> Database? {
        get { databases[table.rawValue] }
        set { databases[table.rawValue] = newValue }
    }

    /// The built-in views, as the bulk path knows them.
    enum View {
        case summary, board, deadlines, monthly, workload, repeatDisputes(RepeatDisputesProjection)

        init?(_ projection: any Projection) {
            switch projection {
            case is CaseSummaryProjection: self = .summary
            case is BoardProjection: self = .board
            case is DeadlinesProjection: self = .deadlines
            case is MonthlyStatisticsProjection: self = .monthly
            case is WorkloadProjection: self = .workload
            case let repeats as RepeatDisputesProjection: self = .repeatDisputes(repeats)
            default: return nil
            }
        }
    }

    /// The targets of `names`, or `nil` when one of them is not a built-in view.
    init?(_ names: [String], entries: [String: ProjectionRuntime.Entry], tables: [String: [String: Database]]) {
        for name in names {
            guard let projection = entries[name]?.projection, let view = View(projection), let t = tables[name] else {
                return nil
            }
            switch view {
            case .summary:
                self[.cases] = t["cases"]
            case .board:
                self[.open] = t["open"]
            case .deadlines:
                self[.due] = t["due"]
                self[.byCase] = t["byCase"]
            case .monthly:
                self[.caseMeta] = t["caseMeta"]
                months = t["months"]
            case .workload:
                self[.byPerson] = t["byPerson"]
                self[.byUnit] = t["byUnit"]
                self[.casePeople] = t["casePeople"]
            case .repeatDisputes(let repeats):
                self[.parties] = t["parties"]
                repeatDisputes = repeats
            }
        }
    }
}

extension BulkPartition {
    /// The partition's rows, one run per ``BulkTargets/Table`` (empty for tables not rebuilt), each in key order.
    /// `nil` with a reason for a case the row layouts cannot hold (over 255 open clocks).
    func rows(_ targets: BulkTargets) -> (runs: [RowRun], unusual: String?) {
        var runs = [RowRun](repeating: RowRun(), count: BulkTargets.Table.allCases.count)
        // Room for a typical case's rows up front, so the arenas are seldom copied as they grow.
        for (table, bytes) in [
            (BulkTargets.Table.cases, 160), (.parties, 48), (.caseMeta, 24), (.casePeople, 40), (.open, 48),
            (.byPerson, 24), (.byUnit, 24),
        ]
        where targets[table] != nil {
            runs[table.rawValue].reserve(rows: records.count, bytes: records.count * bytes)
        }
        let order = cases.withEntries { arena, offsets in
            func id(_ index: Int) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: arena[offsets[index]..<offsets[index + 1]])
            }
            var keyed = (0..<records.count).map { (prefix: RowRun.prefix(id($0)), index: $0) }
            keyed.sort { a, b in
                a.prefix != b.prefix ? a.prefix < b.prefix : ByteInterner.compare(id(a.index), id(b.index)) < 0
            }
            return keyed.map(\.index)
        }
        let owner = Array("owner:".utf8)
        let unusual: String? = texts.withEntries { textArena, textOffsets in
            cases.withEntries { caseArena, caseOffsets in
                partyArena.withUnsafeBytes { partyArena in
                    records.withUnsafeBufferPointer { records in
                        guard let first = records.baseAddress else { return nil }
                        // Texts and ids read in place: no copies, no reference counting.
                        func text(_ id: Int32) -> UnsafeRawBufferPointer {
                            let id = Int(id)
                            return UnsafeRawBufferPointer(rebasing: textArena[textOffsets[id]..<textOffsets[id + 1]])
                        }
                        func str8(_ id: Int32, _ out: inout [UInt8]) {
                            let bytes = text(id)
                            out.append(UInt8(truncatingIfNeeded: bytes.count))
                            out.appendBytes(bytes)
                        }
                        func instant(_ micros: Int64, _ out: inout [UInt8]) {
                            out.appendBigEndian(UInt64(bitPattern: micros) ^ (1 << 63))
                        }
                        // A person as the workload view names it: a leading "owner:" dropped once.
                        func person(_ id: Int32) -> UnsafeRawBufferPointer {
                            let bytes = text(id)
                            return bytes.starts(with: owner)
                                ? UnsafeRawBufferPointer(rebasing: bytes[owner.count...]) : bytes
                        }
                        for index in order {
                            let id = UnsafeRawBufferPointer(
                                rebasing: caseArena[caseOffsets[index]..<caseOffsets[index + 1]])
                            let r = first + index
                            let parties = UnsafeRawBufferPointer(
                                rebasing: partyArena[
                                    Int(
                                        r.pointee.partyStart)..<Int(
                                            r.pointee.partyStart + r.pointee.partyLength)])
                            if targets[.cases] != nil {
                                guard r.pointee.openClocks.count < 256 else { return "a case has over 255 open clocks" }
                                runs[BulkTargets.Table.cases.rawValue].add({ $0.appendBytes(id) }) { out in
                                    let c = r.pointee
                                    out.append(1)
                                    out.append(c.kind)
                                    out.append(c.level)
                                    out.append(c.channel)
                                    out.append(c.disputeType)
                                    out.append(c.closed ? 1 : 0)
                                    out.append(c.rating)
                                    instant(c.lastEventAt, &out)
                                    out.appendBigEndian(c.events)
                                    out.appendBytes(text(c.division))
                                    out.append(UInt8(truncatingIfNeeded: id.count))
                                    out.appendBytes(id)
                                    str8(c.state, &out)
                                    str8(c.unit, &out)
                                    str8(c.owner, &out)
                                    out.append(UInt8(truncatingIfNeeded: c.openClocks.count))
                                    func precedes(_ a: ClockEntry, _ b: ClockEntry) -> Bool {
                                        ByteInterner.compare(text(a.name), text(b.name)) < 0
                                    }
                                    let clocks =
                                        c.openClocks.count < 2 ? c.openClocks : c.openClocks.sorted(by: precedes)
                                    for clock in clocks {
                                        str8(clock.name, &out)
                                        instant(clock.due, &out)
                                    }
                                    out.append(c.partyCount)
                                    out.appendBytes(parties)
                                    out.append(UInt8(truncatingIfNeeded: c.linkCount))
                                    out.append(contentsOf: c.links)
                                }
                            }
                            if targets[.open] != nil, !r.pointee.closed {
                                runs[BulkTargets.Table.open.rawValue].add(
                                    { key in
                                        key.appendBytes(text(r.pointee.division))
                                        key.appendBytes(id)
                                    },
                                    { value in
                                        value.append(r.pointee.lastKind)
                                        value.append(r.pointee.level)
                                        value.append(r.pointee.lastChannel)
                                        str8(r.pointee.state, &value)
                                        str8(r.pointee.unit, &value)
                                    })
                            }
                            if targets[.caseMeta] != nil, r.pointee.metaPresent {
                                runs[BulkTargets.Table.caseMeta.rawValue].add({ $0.appendBytes(id) }) { value in
                                    value.append(r.pointee.metaBreached ? 1 : 0)
                                    str8(r.pointee.metaState, &value)
                                }
                            }
                            if targets[.byCase] != nil, !r.pointee.listed.isEmpty {
                                runs[BulkTargets.Table.byCase.rawValue].add({ $0.appendBytes(id) }) { value in
                                    for clock in r.pointee.listed {
                                        str8(clock.name, &value)
                                        instant(clock.due, &value)
                                    }
                                }
                                for clock in r.pointee.listed {
                                    runs[BulkTargets.Table.due.rawValue].add(
                                        { key in
                                            instant(clock.due, &key)
                                            key.appendBytes(id)
                                            key.append(0)
                                            key.appendBytes(text(clock.name))
                                        }, { $0.appendBytes(text(clock.unit)) })
                                }
                            }
                            if targets[.casePeople] != nil, r.pointee.peoplePresent {
                                let ownerName = text(r.pointee.owner)
                                runs[BulkTargets.Table.casePeople.rawValue].add({ $0.appendBytes(id) }) { value in
                                    str8(r.pointee.unit, &value)
                                    value.append(UInt8(truncatingIfNeeded: owner.count + ownerName.count))
                                    value.append(contentsOf: owner)
                                    value.appendBytes(ownerName)
                                    for helper in r.pointee.helpers { str8(helper, &value) }
                                }
                                // The index rows, named as the view reads them back from the row (equal names give
                                // equal keys, which the runs keep once): `name`, a zero byte, the case id; no value.
                                func index(_ table: BulkTargets.Table, _ name: UnsafeRawBufferPointer) {
                                    runs[table.rawValue].add(
                                        { key in
                                            key.appendBytes(name)
                                            key.append(0)
                                            key.appendBytes(id)
                                        }, { _ in })
                                }
                                index(.byPerson, ownerName)
                                for helper in r.pointee.helpers { index(.byPerson, person(helper)) }
                                let unit = text(r.pointee.unit)
                                if !unit.isEmpty { index(.byUnit, unit) }
                            }
                            if let repeats = targets.repeatDisputes, r.pointee.partyCount > 0 {
                                var offset = 0
                                for _ in 0..<r.pointee.partyCount {
                                    let length = Int(parties[offset])
                                    let reference = UnsafeRawBufferPointer(
                                        rebasing: parties[(offset + 1)..<(offset + 1 + length)])
                                    runs[BulkTargets.Table.parties.rawValue].add(
                                        { key in
                                            repeats.hash(reference, into: &key)
                                            key.appendBytes(id)
                                        }, { _ in })
                                    offset += 1 + length
                                    offset += 1 + Int(parties[offset]) + 1  // the name and the role
                                }
                            }
                        }
                        return nil
                    }
                }
            }
        }
        if let unusual { return (runs, unusual) }
        // Case-keyed tables came out in key order; the others are sorted now.
        for table in [BulkTargets.Table.open, .due, .byPerson, .byUnit, .parties] {
            runs[table.rawValue].sortAndMerge()
        }
        return (runs, nil)
    }

    /// The monthly counters with their keys as the view stores them (`yyyymm` and the division's digits).
    func monthRows() -> [(key: [UInt8], counters: ArraySlice<UInt32>)] {
        let counters = tally.counters
        return tally.months.map { key, base in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(18)
            var month = Int(key.month)
            var digits = [UInt8](repeating: 0, count: 6)
            for index in (0..<6).reversed() {
                digits[index] = UInt8(ascii: "0") + UInt8(month % 10)
                month /= 10
            }
            bytes.append(contentsOf: digits)
            bytes.append(contentsOf: texts.bytes(key.division))
            return (bytes, counters[base..<(base + MonthlyStatisticsProjection.slots)])
        }
    }
}

extension ProjectionRuntime {
    /// What one partition of a bulk rebuild produced.
    private struct PartitionResult: Sendable {
        enum Outcome: Sendable {
            case done
            case unusual(String)
            case full(estimate: Int)
            /// The partition was full and its spill files are split into these partitions, to be computed instead.
            case split([SpilledPartition])
        }
        var outcome: Outcome = .unusual("the partition did not run")
        var runs: [RowRun] = []
        var months: [(key: [UInt8], counters: ArraySlice<UInt32>)] = []
        var cases = 0
        var error: (any Error)?
        /// How long the partition's reading of its events and the encoding of its rows took.
        var scanning: Duration = .zero
        var encoding: Duration = .zero
    }

    /// A partition of a spilled bulk pass: the buckets of cases it holds. A case's events are all in one bucket, in the
    /// log's order, so the buckets are read one after another.
    struct SpilledPartition: Sendable {
        /// Its buckets, each its files in the log's order.
        var buckets: [[SpillFile]]
        /// How many times the partition's one bucket was split.
        var depth = 0

        var events: Int { buckets.joined().reduce(0) { $0 + $1.events } }

        /// The part of split number `depth` (from 0) that a case with this hash falls in, of `parts`: a different
        /// multiplier per depth, then MurmurHash3's finaliser, independent of the bucket (the hash's remainder).
        static func part(_ quickHash: Int, depth: Int, of parts: Int) -> Int {
            var mixed = UInt64(UInt(bitPattern: quickHash)) &* (0x9e37_79b9_7f4a_7c15 &+ 2 &* UInt64(depth + 1))
            mixed ^= mixed >> 33
            mixed &*= 0xff51_afd7_ed55_8ccd
            mixed ^= mixed >> 33
            return Int(mixed % UInt64(parts))
        }
    }

    /// What a bulk pass has computed so far, summed over its rounds.
    private struct PassTotals {
        var months: [[UInt8]: [UInt32]] = [:]
        var rounds = 0
        var cases = 0
        var partitions = 0
        /// The slowest partition's reading and encoding per round, summed over the rounds.
        var scanning: Duration = .zero
        var encoding: Duration = .zero
        /// How long copying the case events into spill files (and splitting them) took.
        var spilling: Duration = .zero
        /// The rows, when the pass took one round: per partition, one run per ``BulkTargets/Table``.
        var rows1: [[RowRun]]?
        /// The rows, when the pass took several rounds: per ``BulkTargets/Table``, a row file per round.
        var rowFiles: [[SpillFile]] = Array(repeating: [], count: BulkTargets.Table.allCases.count)
        /// How long writing the rounds' row files took.
        var sorting: Duration = .zero

        mutating func add(_ results: [PartitionResult]) {
            scanning += results.map(\.scanning).max() ?? .zero
            encoding += results.map(\.encoding).max() ?? .zero
            for result in results {
                cases += result.cases
                for (key, counters) in result.months {
                    var sum = months[key] ?? [UInt32](repeating: 0, count: MonthlyStatisticsProjection.slots)
                    for (slot, value) in zip(sum.indices, counters) { sum[slot] &+= value }
                    months[key] = sum
                }
            }
            rounds += 1
        }
    }

    /// Builds the built-in views `names` from position 1 to `limit` into their new, empty `tables` in bulk: each case's
    /// state is kept in memory from its first event to its last, and every row is written once, appended in key order.
    ///
    /// The cases are split by a hash of their ids into partitions of at most ``bulkCaseCapacity`` cases; up to
    /// ``rebuildThreads`` partitions are computed at once, so memory stays bounded however long the log. The log is
    /// read once: its case events are copied into spill files by bucket (``SpillDirectory``), buckets are grouped into
    /// partitions, and a partition found over its capacity is regrouped or has its files split. Several rounds' rows
    /// are merged from sorted row files at the end. Without spill files, each thread scans the log for one partition,
    /// in one round, and a log with more cases than that gives way to the event-by-event path.
    ///
    /// Returns `limit`, or `nil` when the bulk path does not serve these views or this log (a view that is not
    /// built in, upcasters, or an event in a shape only the event-by-event path reads: an old header, a text that
    /// may have been cut); the tables are then empty again and the caller applies the events one by one, which
    /// gives the same rows or reports the event a view stops at.
    func bulkBuild(
        _ names: [String], upTo limit: UInt64, tables: [String: [String: Database]], timing: inout ChunkTiming
    ) throws -> UInt64? {
        var writer = BulkTableWriter(runtime: self, names: names, tables: tables)
        return try bulkPass(names, upTo: limit, tables: tables, into: &writer, timing: &timing)
    }

    /// Computes the rows of the built-in views `names` from position 1 to `limit` in bulk, as
    /// ``bulkBuild(_:upTo:tables:timing:)`` describes, and hands them to `sink` table by table, each in key order
    /// (the targets are `tables`). Returns `limit`, or `nil` when the bulk path does not serve these views or this log (the sink was
    /// then told to start again, and discards what it took).
    func bulkPass(
        _ names: [String], upTo limit: UInt64, tables: [String: [String: Database]], into sink: inout some BulkRowSink,
        timing: inout ChunkTiming
    ) throws -> UInt64? {
        guard limit > 0, inSnapshots(names), let targets = BulkTargets(names, entries: entries, tables: tables) else {
            return nil
        }
        var spill: SpillDirectory?
        if bulkSpills {
            do {
                // Leftovers of ended processes first: they hold room this pass may need.
                SpillDirectory.removeLeftovers(in: spillParent)
                // Room for the spill and the row files, and a margin, so that the spill cannot fill the disk that
                // appends need (the store's own, by default).
                let (product, overflow) = limit.multipliedReportingOverflow(by: UInt64(spillBytesPerEvent))
                let needed = overflow ? Int.max : Int(clamping: product)
                try SpillDirectory.requireRoom(in: spillParent, for: needed, margin: spillMargin, store: log.path)
                spill = try SpillDirectory(in: spillParent)
            } catch {
                // A place the caller chose must work; the default one may not (a store on a read-only file system).
                if let spillDirectory {
                    throw ProjectionError(.storage, "the spill directory \(spillDirectory) cannot be used: \(error)")
                }
                logger.notice(
                    "a bulk rebuild has no place for spill files; its threads each scan the log, in one round",
                    metadata: ["error": "\(error)"])
            }
        }
        if let spill {
            defer { spill.remove() }
            do {
                guard let totals = try spilledPass(names, upTo: limit, targets, spill, into: &sink, timing: &timing)
                else { return nil }
                return try finishPass(names, upTo: limit, targets, totals, into: &sink, timing: &timing)
            } catch let error as SpillError {
                try sink.startAgain()
                logger.notice(
                    "a bulk rebuild's spill files failed; its threads each scan the log, in one round",
                    metadata: ["error": "\(error)"])
            }
        }
        guard let totals = try scanningPass(names, upTo: limit, targets, into: &sink, timing: &timing) else {
            return nil
        }
        return try finishPass(names, upTo: limit, targets, totals, into: &sink, timing: &timing)
    }

    /// Where a bulk pass makes its spill directory: ``spillDirectory`` when set, else the store's own directory for a
    /// writable log (its file system has room for the store), else the system's temporary directory.
    var spillParent: String {
        if let spillDirectory { return spillDirectory }
        if log.accessMode == .readWrite { return log.path }
        return FileManager.default.temporaryDirectory.path
    }

    /// Why the bulk path gives way, if a partition of the round met an event it does not read.
    private func unusualReason(_ results: [PartitionResult]) -> String? {
        for result in results {
            if case .unusual(let reason) = result.outcome { return reason }
        }
        return nil
    }

    private func giveWay(_ reason: String, _ names: [String], _ sink: inout some BulkRowSink) throws {
        try sink.startAgain()
        logger.notice(
            "the bulk path gives way to the event-by-event one: \(reason)",
            metadata: ["projections": "\(names.joined(separator: ","))"])
    }

    /// The bulk pass over spill files: one scan of the log copies every case event into the files of its bucket (by a
    /// hash of the case id; ``rebuildThreads`` threads, each a share of the positions), buckets are grouped into
    /// partitions by the registrations they hold, and rounds of up to ``rebuildThreads`` partitions each read their own
    /// files. A partition over its capacity is regrouped into more, or, if it is one bucket, has its files split by
    /// other bits of the hash; those are computed in later rounds. `nil` when the bulk path gives way.
    private func spilledPass(
        _ names: [String], upTo limit: UInt64, _ targets: BulkTargets, _ spill: SpillDirectory,
        into sink: inout some BulkRowSink, timing: inout ChunkTiming
    ) throws -> PassTotals? {
        let threads = max(1, rebuildThreads)
        let clock = ContinuousClock()
        var totals = PassTotals()
        let started = clock.now
        // Buckets of at most `bulkCaseCapacity` events on average, so that one seldom holds more cases than that.
        let buckets =
            spillBuckets
            ?? Int(min(UInt64(Self.spillBucketLimit), max(UInt64(threads), limit / UInt64(bulkCaseCapacity) + 1)))
        var pending = Self.groups(
            try spillCaseEvents(upTo: limit, into: spill, buckets: buckets), capacity: bulkCaseCapacity,
            threads: threads)
        totals.spilling = clock.now - started
        afterSpill.withLock { $0 }?(spill.path)
        totals.partitions = pending.count
        while !pending.isEmpty {
            let group = Array(pending.prefix(threads))
            pending.removeFirst(group.count)
            let roundStarted = clock.now
            let results = computeSpilled(group, upTo: limit, targets, spill)
            timing.computing += clock.now - roundStarted
            if let error = results.lazy.compactMap(\.error).first { throw error }
            if let reason = unusualReason(results) {
                try giveWay(reason, names, &sink)
                return nil
            }
            var done: [PartitionResult] = []
            for result in results {
                switch result.outcome {
                case .split(let parts):
                    pending.append(contentsOf: parts)
                    totals.partitions += parts.count - 1
                    totals.spilling += result.scanning
                case .done:
                    done.append(result)
                case .full, .unusual:
                    // Full partitions come back split, and an unusual one made the pass give way above.
                    try giveWay("a partition came back without rows", names, &sink)
                    return nil
                }
            }
            guard totals.partitions <= Self.bulkPartitionLimit else {
                try giveWay("too many cases for it", names, &sink)
                return nil
            }
            guard !done.isEmpty else { continue }
            let round = totals.rounds
            totals.add(done)
            if round == 0, pending.isEmpty {
                totals.rows1 = done.map(\.runs)
            } else {
                // Each round's rows go to a file per table, merged into the tables once all rounds are done.
                let sortStarted = clock.now
                for table in BulkTargets.Table.allCases where targets[table] != nil {
                    var rows = MergedRuns(done.map { $0.runs[table.rawValue] })
                    var writer = RowFileWriter(path: spill.file("rows-\(table)-\(round)"))
                    while try rows.next({ key, value in try writer.add(key, value) }) {}
                    totals.rowFiles[table.rawValue].append(try writer.finish())
                }
                totals.sorting += clock.now - sortStarted
            }
        }
        return totals
    }

    /// Groups buckets (each its spill files) into at least `threads` partitions (a multiple of it when there are
    /// enough buckets), in order, each with at least one bucket. They are cut where the running count of
    /// registrations (the cases the buckets will hold; their events when no bucket counted one) comes nearest to
    /// each partition's equal share, and there are enough partitions for each share to stay under nine tenths of
    /// `capacity`.
    static func groups(_ buckets: [[SpillFile]], capacity: Int, threads: Int) -> [SpilledPartition] {
        guard !buckets.isEmpty else { return [] }
        var weights = buckets.map { $0.reduce(0) { $0 + $1.registrations } }
        var total = weights.reduce(0, +)
        if total == 0 {
            weights = buckets.map { $0.reduce(0) { $0 + $1.events } }
            total = weights.reduce(0, +)
        }
        var count = max(threads, Int((Double(total) / (0.9 * Double(capacity))).rounded(.up)))
        count = min(buckets.count, (count + threads - 1) / threads * threads)
        let share = Double(total) / Double(count)
        var partitions: [SpilledPartition] = []
        var current: [[SpillFile]] = []
        var sum = 0
        for (bucket, files) in buckets.enumerated() {
            current.append(files)
            sum += weights[bucket]
            let left = buckets.count - bucket - 1
            let toCome = count - partitions.count - 1
            guard toCome > 0 else { continue }
            // Cut here when the running sum is nearer the partition's end than it would be after the next bucket,
            // or when the buckets left are just enough for the partitions to come.
            let end = share * Double(partitions.count + 1)
            let next = bucket + 1 < buckets.count ? Double(sum + weights[bucket + 1]) : .infinity
            if left <= toCome || abs(Double(sum) - end) <= abs(next - end) {
                partitions.append(SpilledPartition(buckets: current))
                current = []
            }
        }
        if !current.isEmpty { partitions.append(SpilledPartition(buckets: current)) }
        return partitions
    }

    /// Copies the case events up to `limit` into spill files, by bucket of `buckets` (the case id's quick hash):
    /// ``rebuildThreads`` threads each scan a share of the positions into files of their own, so a bucket's files, in
    /// the threads' order, hold its events in the log's order. Returns each bucket's files.
    private func spillCaseEvents(upTo limit: UInt64, into spill: SpillDirectory, buckets: Int) throws -> [[SpillFile]] {
        let segments = Int(min(UInt64(max(1, rebuildThreads)), limit))
        let log = self.log
        let seed = ByteInterner.quickSeed
        let registered = Array("registered".utf8)
        // Set when a segment fails, so that the others stop scanning.
        let failed = StopFlag()
        @Sendable func copy(_ segment: Int) -> Result<[SpillFile], any Error> {
            let first = limit * UInt64(segment) / UInt64(segments) + 1
            let last = limit * UInt64(segment + 1) / UInt64(segments)
            var writer = SpillWriter(files: (0..<buckets).map { spill.file("s\(segment)-b\($0)") })
            do {
                let count = Int(last - first + 1)
                let seen = try log.forEachEvent(from: first, limit: count) { event in
                    let position = event.position
                    return event.withStreamTypeAndMetadata { stream, type, metadata in
                        guard let id = BulkPartition.caseID(ofStream: stream) else { return true }
                        let hash = ByteInterner.quickHash(id, seed: seed)
                        writer.add(
                            to: BulkPartition.partition(hash, of: buckets), position: position, quickHash: hash,
                            id: id, type: type, metadata: metadata,
                            registration: type.elementsEqual(registered))
                        return writer.failure == nil && !failed.isSet
                    }
                }
                let files = try writer.finish()
                if failed.isSet { throw SpillError(StopFlag.message) }
                guard seen == count else {
                    throw ProjectionError(
                        .storage, "the log returned \(seen) events from position \(first) to position \(last)")
                }
                return .success(files)
            } catch {
                failed.set()
                return .failure(error)
            }
        }
        let results = Self.inParallel(Array(0..<segments), copy).map {
            $0 ?? .failure(SpillError("a segment of the spill did not run"))
        }
        // A segment's own failure first, before one that stopped because of it.
        let failures = results.compactMap { result -> (any Error)? in
            if case .failure(let error) = result { return error }
            return nil
        }
        if let error = failures.first(where: { ($0 as? SpillError)?.description != StopFlag.message }) ?? failures.first
        {
            throw error
        }
        // By segment: a bucket's files in the order of the positions.
        let files = try results.map { try $0.get() }
        return (0..<buckets).map { bucket in files.map { $0[bucket] } }
    }

    /// Computes the partitions of `group` from their spill files, on threads of their own. A partition over its
    /// capacity comes back regrouped or split (``PartitionResult/Outcome/split(_:)``); a done partition's files are
    /// removed once read, before its rows are encoded.
    private func computeSpilled(
        _ group: [SpilledPartition], upTo limit: UInt64, _ targets: BulkTargets, _ spill: SpillDirectory
    ) -> [PartitionResult] {
        let capacity = bulkCaseCapacity
        let keyLimit = log.maxKeySize
        @Sendable func run(_ partition: SpilledPartition) -> PartitionResult {
            var result = PartitionResult()
            var worker = BulkPartition(
                partition: 0, of: 1, capacity: capacity, upTo: limit, keyLimit: keyLimit,
                events: UInt64(partition.events))
            do {
                let clock = ContinuousClock()
                let started = clock.now
                reading: for file in partition.buckets.joined() {
                    let finished = try SpillDirectory.forEachRecord(in: file) { position, hash, id, type, metadata in
                        worker.visit(position: position, case: id, quickHash: hash, type: type, metadata: metadata)
                    }
                    if !finished { break reading }
                }
                result.scanning = clock.now - started
                if case .full(let estimate) = worker.outcome {
                    // Parts enough for the estimate (a tenth to spare), and at least two.
                    let parts = max(2, Int((1.1 * Double(estimate) / Double(capacity)).rounded(.up)))
                    guard partition.depth < 16, parts <= Self.spillBucketLimit else {
                        result.outcome = .unusual("too many cases for it")
                        return result
                    }
                    let splitStarted = clock.now
                    if partition.buckets.count > 1 {
                        // Its buckets in more partitions: no file is written again.
                        let regrouped = Self.groups(
                            partition.buckets, capacity: capacity, threads: min(parts, partition.buckets.count))
                        result.outcome = .split(regrouped)
                        bulkRegroups.add(1, ordering: .relaxed)
                    } else {
                        result.outcome = .split(try split(partition, into: parts, spill))
                        bulkSplits.add(1, ordering: .relaxed)
                    }
                    result.scanning += clock.now - splitStarted
                    return result
                }
                for file in partition.buckets.joined() { spill.remove(file) }
                finish(&worker, into: &result, targets, keyLimit: keyLimit)
            } catch {
                result.error = error
            }
            return result
        }
        // A partition that did not run comes back unusual: the pass gives way.
        return Self.inParallel(group, run).map { $0 ?? PartitionResult() }
    }

    /// Splits a partition of one bucket into `parts` partitions by other bits of the case id's hash than the bucket's
    /// (and than earlier splits'), each with one file, and removes the old files.
    private func split(_ partition: SpilledPartition, into parts: Int, _ spill: SpillDirectory) throws
        -> [SpilledPartition]
    {
        let depth = partition.depth
        let name = "split-\(UUID().uuidString)-"
        let registered = Array("registered".utf8)
        var writer = SpillWriter(files: (0..<parts).map { spill.file(name + "\($0)") })
        for file in partition.buckets.joined() {
            _ = try SpillDirectory.forEachRecord(in: file) { position, hash, id, type, metadata in
                writer.add(
                    to: SpilledPartition.part(hash, depth: depth, of: parts), position: position, quickHash: hash,
                    id: id, type: type, metadata: metadata, registration: type.elementsEqual(registered))
                return writer.failure == nil
            }
        }
        let files = try writer.finish()
        for file in partition.buckets.joined() { spill.remove(file) }
        return files.filter { $0.events > 0 }.map { SpilledPartition(buckets: [[$0]], depth: depth + 1) }
    }

    /// The rows of a partition whose events were all applied, into `result` (or why the bulk path cannot write them).
    private func finish(
        _ worker: inout BulkPartition, into result: inout PartitionResult, _ targets: BulkTargets, keyLimit: Int
    ) {
        switch worker.outcome {
        case .unusual(let reason):
            result.outcome = .unusual(reason)
            return
        case .full(let estimate):
            result.outcome = .full(estimate: estimate)
            return
        case .done:
            break
        }
        let clock = ContinuousClock()
        let encodingStarted = clock.now
        let (runs, unusual) = worker.rows(targets)
        result.encoding = clock.now - encodingStarted
        if let unusual {
            result.outcome = .unusual(unusual)
            return
        }
        // The event-by-event path stops the view at the event whose key the store cannot hold.
        if let longest = runs.map(\.longestKey).max(), longest > keyLimit {
            result.outcome = .unusual("a key of \(longest) bytes, over the store's limit of \(keyLimit)")
            return
        }
        result.runs = runs
        result.months = worker.monthRows()
        result.cases = worker.records.count
        result.outcome = .done
    }

    /// The bulk pass without spill files: ``rebuildThreads`` threads each scan the log and apply one partition's cases.
    /// The cases must fit in those partitions: the pass gives way to the event-by-event path (`nil`) when one is over
    /// its capacity, as it does for an event it does not read.
    private func scanningPass(
        _ names: [String], upTo limit: UInt64, _ targets: BulkTargets, into sink: inout some BulkRowSink,
        timing: inout ChunkTiming
    ) throws -> PassTotals? {
        let partitions = max(1, rebuildThreads)
        let clock = ContinuousClock()
        var totals = PassTotals()
        totals.partitions = partitions
        let started = clock.now
        let results = computePartitions(Array(0..<partitions), of: partitions, upTo: limit, targets)
        timing.computing += clock.now - started
        if let error = results.lazy.compactMap(\.error).first { throw error }
        if let reason = unusualReason(results) {
            try giveWay(reason, names, &sink)
            return nil
        }
        for result in results {
            if case .full = result.outcome {
                try giveWay("more cases than one round holds, and no spill files", names, &sink)
                return nil
            }
        }
        totals.add(results)
        totals.rows1 = results.map(\.runs)
        return totals
    }

    /// Hands every table's rows, in key order, to the sink (the monthly counters summed over all partitions) and logs
    /// what the pass did.
    private func finishPass(
        _ names: [String], upTo limit: UInt64, _ targets: BulkTargets, _ totals: PassTotals,
        into sink: inout some BulkRowSink, timing: inout ChunkTiming
    ) throws -> UInt64 {
        var rows = 0
        for table in BulkTargets.Table.allCases {
            guard let database = targets[table] else { continue }
            if let partitions = totals.rows1 {
                var stream = MergedRuns(partitions.map { $0[table.rawValue] })
                rows += try sink.take("\(table)", database, &stream, timing: &timing)
            } else {
                var stream = try RowFileMerge(totals.rowFiles[table.rawValue])
                rows += try sink.take("\(table)", database, &stream, timing: &timing)
            }
        }
        // Even with no counters: a check compares the stored table with none.
        if let database = targets.months {
            var run = RowRun()
            for (key, counters) in totals.months {
                run.add({ $0.append(contentsOf: key) }) { value in
                    for counter in counters {
                        withUnsafeBytes(of: counter.bigEndian) { value.append(contentsOf: $0) }
                    }
                }
            }
            run.sortAndMerge()
            var stream = MergedRuns([run])
            rows += try sink.take("months", database, &stream, timing: &timing)
        }
        bulkBuilds.add(1, ordering: .relaxed)
        logger.info(
            "built in bulk",
            metadata: [
                "projections": "\(names.joined(separator: ","))", "events": "\(limit)", "cases": "\(totals.cases)",
                "rows": "\(rows)", "partitions": "\(totals.partitions)", "rounds": "\(totals.rounds)",
                "spilling": "\(totals.spilling)", "scanning": "\(totals.scanning)", "encoding": "\(totals.encoding)",
                "sorting": "\(totals.sorting)",
            ])
        return limit
    }

    /// `body` of each item, up to one thread per processor (the calling one among them), in the items' order; `nil`
    /// for an item that did not run (`concurrentPerform` runs every one, so none is expected).
    static func inParallel<Item: Sendable, Output: Sendable>(
        _ items: [Item], _ body: @Sendable (Item) -> Output
    ) -> [Output?] {
        if items.count == 1 { return [body(items[0])] }
        let results = Mutex<[Output?]>(Array(repeating: nil, count: items.count))
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            let output = body(items[index])
            results.withLock { $0[index] = output }
        }
        return results.withLock { $0 }
    }

    /// At most this many spill buckets (each thread of the spill keeps a buffer per bucket), and at most this many
    /// parts in one split. Buckets are sized by events; past about 4,096 × 73,000 cases, buckets hold more cases than
    /// a partition may and are split when read.
    static let spillBucketLimit = 4_096
    /// More partitions than this and the bulk path gives way to the event-by-event one: about 6,144 × 73,000 cases. A
    /// round reads only its own partitions' files, so more partitions cost no more scans of the log; the bound keeps
    /// the row files the final merge maps (one per round and table, nine tables) under Linux's default 65,530
    /// mappings even on one thread.
    static let bulkPartitionLimit = 6_144

    /// Scans the log once per partition of `group`, on threads of their own, and returns each one's rows.
    private func computePartitions(
        _ group: [Int], of partitions: Int, upTo limit: UInt64, _ targets: BulkTargets
    ) -> [PartitionResult] {
        let capacity = bulkCaseCapacity
        let keyLimit = log.maxKeySize
        @Sendable func run(_ partition: Int) -> PartitionResult {
            var result = PartitionResult()
            // One round only: it gives way when the capacity is met, not on an estimate.
            var worker = BulkPartition(
                partition: partition, of: partitions, capacity: capacity, upTo: limit, keyLimit: keyLimit,
                estimates: false)
            do {
                let clock = ContinuousClock()
                let started = clock.now
                let seen = try log.forEachEvent(from: 1, limit: Int(limit)) { event in worker.visit(event) }
                result.scanning = clock.now - started
                if case .done = worker.outcome, seen != Int(limit) {
                    throw ProjectionError(.storage, "the log returned \(seen) events up to position \(limit)")
                }
                finish(&worker, into: &result, targets, keyLimit: keyLimit)
            } catch {
                result.error = error
            }
            return result
        }
        // A partition that did not run comes back unusual: the pass gives way.
        return Self.inParallel(group, run).map { $0 ?? PartitionResult() }
    }

    /// Appends the rows `rows` hands out, in key order, to the empty table `database`, in write transactions of at
    /// most ``writeBatchRows`` rows. Returns the number of rows.
    func append(_ rows: inout some RowStream, to database: Database, timing: inout ChunkTiming) throws -> Int {
        let clock = ContinuousClock()
        let batch = writeBatchRows
        var total = 0
        while true {
            let start = rows.mark
            // No transaction for the end of the stream.
            guard try rows.next({ _, _ in }) else { return total }
            rows.rewind(to: start)
            var count = 0
            var more = true
            var entered = clock.now
            try log.writeViews { txn in
                entered = clock.now
                // A map growth runs this closure again in a new transaction: it writes the same rows again.
                rows.rewind(to: start)
                count = 0
                while count < batch {
                    more = try rows.next { key, value in
                        try txn.put(database, key: key, value: value, options: .append)
                    }
                    guard more else { break }
                    count += 1
                }
            }
            timing.wrote(clock.now - entered)
            total += count
            if !more { return total }
        }
    }
}

/// Where a bulk pass's rows go: ``BulkTableWriter`` writes them into the new tables, a read-only check compares them
/// with the stored ones.
protocol BulkRowSink {
    /// The pass starts again, or gives way: forget what was taken.
    mutating func startAgain() throws
    /// Takes every row of one table (`name`, as the view names it), in key order. Returns the rows taken.
    mutating func take(
        _ name: String, _ database: Database, _ rows: inout some RowStream, timing: inout ProjectionRuntime.ChunkTiming
    ) throws -> Int
}

/// Writes a bulk pass's rows into the new generation's tables, each appended in key order.
struct BulkTableWriter: BulkRowSink {
    let runtime: ProjectionRuntime
    let names: [String]
    let tables: [String: [String: Database]]
    private var written = false

    init(runtime: ProjectionRuntime, names: [String], tables: [String: [String: Database]]) {
        self.runtime = runtime
        self.names = names
        self.tables = tables
    }

    mutating func startAgain() throws {
        guard written else { return }
        let (names, tables) = (names, tables)
        try runtime.log.writeViews { txn in
            for name in names { for database in (tables[name] ?? [:]).values { try txn.empty(database) } }
        }
        written = false
    }

    mutating func take(
        _ name: String, _ database: Database, _ rows: inout some RowStream,
        timing: inout ProjectionRuntime.ChunkTiming
    ) throws -> Int {
        written = true
        return try runtime.append(&rows, to: database, timing: &timing)
    }
}
