import CaseLedgerLog
import CaseLedgerWorkflow
import Foundation

/// Byte strings interned into dense numbers: an open-addressing table over one arena of bytes. Looking up a string
/// that is already there allocates nothing and, for strings of up to 16 bytes, reads one slot of the table: the slot
/// keeps the hash, the length and the first 16 bytes. A table of strings callers choose (case ids) hashes with the
/// standard library's seeded `Hasher`, so they cannot be chosen to collide; the others with a cheaper hash.
struct ByteInterner {
    private struct Slot {
        var hash = 0
        var id: Int32 = -1
        var length: Int32 = 0
        var head: (UInt64, UInt64) = (0, 0)
    }
    private var arena: [UInt8] = []
    /// Entry `i` is `arena[offsets[i]..<offsets[i + 1]]`.
    private var offsets: [Int] = [0]
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0
    /// Whether strings are hashed with the seeded `Hasher` (else with ``quickHash(_:)``).
    let seeded: Bool
    /// ``quickSeed``, read once.
    private let quickSeed = ByteInterner.quickSeed

    init(capacity: Int = 64, seeded: Bool) {
        self.seeded = seeded
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
        mask = size - 1
        offsets.reserveCapacity(capacity + 1)
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }

    /// A cheap hash for tables whose strings callers do not choose (event types, states, units) and for the partition
    /// of a case id: eight bytes at a time, each word mixed in by a multiplication, then MurmurHash3's finaliser.
    /// It starts from ``quickSeed``, random per process, so case ids (UTF-8 strings) cannot be chosen ahead to fall in
    /// one partition. It is no keyed hash: some byte strings that are not UTF-8 collide under every seed.
    static func quickHash(_ bytes: UnsafeRawBufferPointer) -> Int {
        quickHash(bytes, seed: quickSeed)
    }

    /// ``quickHash(_:)`` with the process's seed passed in (`quickSeed`), for loops that read it once.
    static func quickHash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> Int {
        var hash = seed ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9e37_79b9_7f4a_7c15
            hash ^= hash >> 32
            offset += 8
        }
        if offset < bytes.count {
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            }
            hash = (hash ^ tail) &* 0x9e37_79b9_7f4a_7c15
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return Int(truncatingIfNeeded: hash)
    }

    /// ``quickHash(_:)``'s starting value in this process.
    static let quickSeed = UInt64.random(in: .min ... .max)

    /// The first 16 bytes, zero-padded.
    static func head(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var head: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &head) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(16))) }
        return head
    }

    /// The number of `bytes`, adding them when they are new.
    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> (id: Int32, isNew: Bool) {
        let hash = seeded ? Self.hash(bytes) : Self.quickHash(bytes, seed: quickSeed)
        let head = Self.head(bytes)
        var index = hash & mask
        while case let slot = slots[index], slot.id >= 0 {
            if slot.hash == hash, Int(slot.length) == bytes.count, slot.head == head,
                bytes.count <= 16 || equals(slot.id, bytes)
            {
                return (slot.id, false)
            }
            index = (index + 1) & mask
        }
        let id = Int32(truncatingIfNeeded: count)
        arena.append(contentsOf: bytes)
        offsets.append(arena.count)
        slots[index] = Slot(hash: hash, id: id, length: Int32(truncatingIfNeeded: bytes.count), head: head)
        count += 1
        if count * 2 > slots.count { grow() }
        return (id, true)
    }

    mutating func intern(_ text: StaticString) -> Int32 {
        text.withUTF8Buffer { intern(UnsafeRawBufferPointer($0)).id }
    }

    /// Whether entry `id` holds exactly `bytes`.
    func equals(_ id: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[Int(id)]
        guard offsets[Int(id) + 1] - start == bytes.count else { return false }
        guard let theirs = bytes.baseAddress, !bytes.isEmpty else { return true }
        return arena.withUnsafeBytes { arena in
            guard let mine = arena.baseAddress else { return false }
            return memcmp(mine + start, theirs, bytes.count) == 0
        }
    }

    /// Entry `id`'s bytes.
    func bytes(_ id: Int32) -> ArraySlice<UInt8> { arena[offsets[Int(id)]..<offsets[Int(id) + 1]] }

    /// The arena and the entries' offsets, for code that compares many entries (a sort).
    func withEntries<R>(_ body: (UnsafeRawBufferPointer, UnsafeBufferPointer<Int>) throws -> R) rethrows -> R {
        try arena.withUnsafeBytes { arena in try offsets.withUnsafeBufferPointer { try body(arena, $0) } }
    }

    /// Compares two entries' bytes as LMDB orders keys: bytes as unsigned numbers, a prefix first.
    func precedes(_ a: Int32, _ b: Int32) -> Bool {
        let (x, y) = (bytes(a), bytes(b))
        return x.withUnsafeBytes { x in y.withUnsafeBytes { y in Self.compare(x, y) < 0 } }
    }

    static func compare(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Int {
        let common = min(x.count, y.count)
        if common > 0, let xs = x.baseAddress, let ys = y.baseAddress {
            let order = memcmp(xs, ys, common)
            if order != 0 { return Int(order) }
        }
        return x.count - y.count
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.id >= 0 {
            var index = slot.hash & mask
            while slots[index].id >= 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }
}

/// A workflow ``RecordHeader`` read in place from an event's metadata: numbers, and ranges of the metadata for its
/// texts and sections. `init` accepts exactly the headers `RecordHeader(buffer:)` decodes, less a few shapes the bulk
/// rebuild leaves to the event-by-event path (``BulkBuild``): a text of 255 bytes (it may have been cut), a section
/// twice, or 255 parties, people or links.
struct HeaderSpan {
    var kind: UInt8
    var level: UInt8
    var channel: UInt8
    var disputeType: UInt8
    var closed: Bool
    var window: Bool
    var hasLinks: Bool
    var rating: UInt8
    var at: Int64
    /// 0 when the event has no due instant.
    var due: Int64
    var state: Range<Int>
    var unit: Range<Int>
    var owner: Range<Int>
    var deadline: Range<Int>
    /// A section's bytes after its count byte, and the count.
    var parties: (bytes: Range<Int>, count: Int)?
    var people: (bytes: Range<Int>, count: Int)?
    var links: (bytes: Range<Int>, count: Int)?
    var route: UInt8?
    var reviewOutcome: UInt8?

    static let division = 23..<35
    static let kinds = UInt8(CaseKind.allCases.count)
    static let levels = UInt8(Level.allCases.count)
    static let channels = UInt8(Channel.allCases.count)
    static let disputeTypes = UInt8(DisputeType.allCases.count)
    static let roles = UInt8(PartyRole.allCases.count)
    static let relations = UInt8(CaseLink.Relation.allCases.count)
    static let routes = UInt8(Route.allCases.count)
    static let reviewOutcomes = UInt8(ReviewOutcome.allCases.count)

    /// The range of the `str8` text at `offset` (a length byte under 255, then the text), moving `offset` past it.
    @inline(__always)
    private static func str8(_ b: UnsafeRawBufferPointer, _ offset: inout Int) -> Range<Int>? {
        guard offset < b.count else { return nil }
        let length = Int(b[offset])
        guard length < 255, offset + 1 + length <= b.count else { return nil }
        defer { offset += 1 + length }
        return (offset + 1)..<(offset + 1 + length)
    }

    /// `nil` for metadata that is not a format-1 header, and for the shapes left to the event-by-event path. The
    /// division's digits are not checked here (the caller checks each distinct division once).
    init?(_ b: UnsafeRawBufferPointer) {
        guard b.count >= 39, b[0] == RecordHeader.format, b[1] < Self.kinds, b[2] < Self.levels,
            b[3] < Self.channels, b[4] < Self.disputeTypes
        else { return nil }
        var offset = 35
        func str8() -> Range<Int>? { Self.str8(b, &offset) }
        guard let state = str8(), let unit = str8(), let owner = str8(), let deadline = str8() else { return nil }
        kind = b[1]
        level = b[2]
        channel = b[3]
        disputeType = b[4]
        closed = b[5] & 1 != 0
        window = b[5] & 4 != 0
        hasLinks = b[5] & 8 != 0
        rating = b[6]
        at = Int64(bigEndian: b.loadUnaligned(fromByteOffset: 7, as: Int64.self))
        due = Int64(bigEndian: b.loadUnaligned(fromByteOffset: 15, as: Int64.self))
        self.state = state
        self.unit = unit
        self.owner = owner
        self.deadline = deadline
        parties = nil
        people = nil
        links = nil
        route = nil
        reviewOutcome = nil
        while offset + 1 < b.count {
            let tag = b[offset]
            let count = Int(b[offset + 1])
            offset += 2
            let start = offset
            switch tag {
            case 1:
                guard parties == nil, count < 255 else { return nil }
                for _ in 0..<count {
                    guard str8() != nil, str8() != nil, offset < b.count, b[offset] < Self.roles else { return nil }
                    offset += 1
                }
                parties = (start..<offset, count)
            case 2:
                guard people == nil, count < 255 else { return nil }
                for _ in 0..<count { guard str8() != nil else { return nil } }
                people = (start..<offset, count)
            case 3:
                guard links == nil, count < 255 else { return nil }
                for _ in 0..<count {
                    guard offset < b.count, b[offset] < Self.relations else { return nil }
                    offset += 1
                    guard str8() != nil else { return nil }
                }
                links = (start..<offset, count)
            case 4:
                guard route == nil, b[offset - 1] < Self.routes else { return nil }
                route = b[offset - 1]
            case 5:
                guard reviewOutcome == nil, b[offset - 1] < Self.reviewOutcomes else { return nil }
                reviewOutcome = b[offset - 1]
            default:
                return nil
            }
        }
    }
}

/// What an event's type means to the built-in views.
struct TypeFlags: OptionSet {
    let rawValue: UInt32
    static let registered = TypeFlags(rawValue: 1 << 0)
    static let evaluated = TypeFlags(rawValue: 1 << 1)
    static let escalated = TypeFlags(rawValue: 1 << 2)
    static let riskFlagged = TypeFlags(rawValue: 1 << 3)
    /// `aidApproved` or `provisionalAidGranted`.
    static let aidApproved = TypeFlags(rawValue: 1 << 4)
    static let aidDenied = TypeFlags(rawValue: 1 << 5)
    static let referred = TypeFlags(rawValue: 1 << 6)
    static let reviewDecided = TypeFlags(rawValue: 1 << 7)
    static let closed = TypeFlags(rawValue: 1 << 8)
    static let deadlineBreached = TypeFlags(rawValue: 1 << 9)
    /// `deadlineSet` or `deadlineResumed`.
    static let setsClock = TypeFlags(rawValue: 1 << 10)
    /// `deadlineExtended` or `deadlineRecounted`.
    static let movesClock = TypeFlags(rawValue: 1 << 11)
    /// `deadlinePaused` or `deadlineStopped`.
    static let unlistsClock = TypeFlags(rawValue: 1 << 12)
    /// `deadlineStopped` or `deadlineBreached`: the case summary drops the clock.
    static let endsClock = TypeFlags(rawValue: 1 << 13)
    static let approaching = TypeFlags(rawValue: 1 << 14)
    static let handedOff = TypeFlags(rawValue: 1 << 15)
    /// `mediationStarted` or `aidProviderAssigned`: the header names the people who help.
    static let namesHelpers = TypeFlags(rawValue: 1 << 16)
    /// `referred`, `legalAidAttached` or `convertedToCase`: the event links the case to another.
    static let links = TypeFlags(rawValue: 1 << 17)
    /// A review's ending without a decision: bit `18 + i` for `ReviewEnding.allCases[i]`.
    static let reviewEndingShift: UInt32 = 18
    static let reviewEndings = TypeFlags(
        rawValue: ((1 << UInt32(ReviewEnding.allCases.count)) - 1) << reviewEndingShift)

    init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The flags of the event type named by `bytes`.
    init(type bytes: UnsafeRawBufferPointer) {
        let flags: [String: TypeFlags] = [
            "registered": .registered, "evaluated": .evaluated, "escalated": .escalated, "riskFlagged": .riskFlagged,
            "aidApproved": .aidApproved, "provisionalAidGranted": .aidApproved, "aidDenied": .aidDenied,
            "referred": [.referred, .links], "reviewDecided": .reviewDecided, "closed": .closed,
            "deadlineBreached": [.deadlineBreached, .endsClock], "deadlineSet": .setsClock,
            "deadlineResumed": .setsClock, "deadlineExtended": .movesClock, "deadlineRecounted": .movesClock,
            "deadlinePaused": .unlistsClock, "deadlineStopped": [.unlistsClock, .endsClock],
            "deadlineApproaching": .approaching, "handedOff": .handedOff, "mediationStarted": .namesHelpers,
            "aidProviderAssigned": .namesHelpers, "legalAidAttached": .links, "convertedToCase": .links,
        ]
        let name = String(decoding: bytes, as: UTF8.self)
        if let ending = ReviewEnding.allCases.firstIndex(where: { $0.eventType == name }) {
            self = TypeFlags(rawValue: 1 << (Self.reviewEndingShift + UInt32(ending)))
            return
        }
        self = flags[name] ?? []
    }

    /// The index in `ReviewEnding.allCases` of the review ending these flags name, if any.
    var reviewEnding: Int? {
        let bits = (rawValue & Self.reviewEndings.rawValue) >> Self.reviewEndingShift
        return bits == 0 ? nil : bits.trailingZeroBitCount
    }
}

/// A listed clock of a case (the deadlines view) or an open one (the case summary): interned name, due instant, and
/// for a listed clock the unit its `due` row names.
struct ClockEntry {
    var name: Int32
    var due: Int64
    var unit: Int32
}

/// Everything the six built-in views keep of one case, as of the last event the bulk rebuild applied.
struct CaseRecord {
    // The case summary: kind, channel, dispute type and division from the case's first event; the rest from its last.
    var lastEventAt: Int64
    /// Saturates as the row's 4 bytes do.
    var events: UInt32 = 0
    var division: Int32
    var state: Int32
    var unit: Int32
    var owner: Int32
    /// The parties section of the registration, in the partition's arena.
    var partyStart: Int32 = 0
    var partyLength: Int32 = 0
    var partyCount: UInt8 = 0
    var registrations: UInt8 = 0
    var linkCount: UInt8 = 0
    var kind: UInt8
    var channel: UInt8
    var disputeType: UInt8
    var level: UInt8
    var closed: Bool
    var rating: UInt8 = 255
    // The board: the last event's kind and channel (the summary keeps the first's).
    var lastKind: UInt8
    var lastChannel: UInt8
    // Monthly statistics: the `caseMeta` row.
    var metaPresent = false
    var metaBreached = false
    // Workload: whether the `casePeople` row exists.
    var peoplePresent = false
    var metaState: Int32 = 0
    var openClocks: [ClockEntry] = []
    var links: [UInt8] = []
    // The deadlines view: running and breached clocks, by name.
    var listed: [ClockEntry] = []
    // Workload: the people besides the owner.
    var helpers: [Int32] = []
}

/// A month's counters key: `yyyymm` and the division's interned number.
struct MonthKey: Hashable {
    var month: Int32
    var division: Int32
}

/// The monthly statistics' counters of one partition's events, by month and division.
struct MonthTally {
    private(set) var months: [MonthKey: Int] = [:]
    private(set) var counters: [UInt32] = []
    private var day: (start: Int64, end: Int64, month: Int32) = (1, 0, 0)
    private var last: (key: MonthKey, base: Int)?

    /// Adds one to each of `slots` of the month of `at` in `division`.
    mutating func count(_ at: Int64, _ division: Int32, _ slots: Slice<UnsafeBufferPointer<Int>>) {
        if at < day.start || at >= day.end {
            let date = LegalTime.date(of: Instant(microsecondsSinceEpoch: at))
            let year = min(max(date.year, 0), 9999)
            // The day's bounds are cached only well inside the range of instants (`startOf` traps near its ends).
            if at > -(1 << 62), at < 1 << 62 {
                let start = LegalTime.startOf(date).microsecondsSinceEpoch
                day = (start, start + 86_400_000_000, Int32(year * 100 + date.month))
                if at < day.start || at >= day.end { day = (1, 0, day.month) }
            } else {
                day = (1, 0, Int32(year * 100 + date.month))
            }
        }
        let key = MonthKey(month: day.month, division: division)
        let base: Int
        if let last, last.key == key {
            base = last.base
        } else if let known = months[key] {
            base = known
        } else {
            base = counters.count
            months[key] = base
            counters.append(contentsOf: repeatElement(0, count: MonthlyStatisticsProjection.slots))
        }
        last = (key, base)
        for slot in slots where slot < MonthlyStatisticsProjection.slots { counters[base + slot] &+= 1 }
    }
}

extension ByteInterner {
    /// The number of a text in a header: valid UTF-8 without zero bytes (checked once per distinct text), else `nil`.
    mutating func text(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        let (id, isNew) = intern(bytes)
        if isNew, bytes.contains(0) || String(validating: bytes, as: UTF8.self) == nil {
            return nil
        }
        return id
    }

    /// `current` when it holds `bytes` (most events repeat the case's state, unit and owner), else ``text(_:)``.
    mutating func text(_ bytes: UnsafeRawBufferPointer, current: Int32) -> Int32? {
        equals(current, bytes) ? current : text(bytes)
    }
}

/// One thread's share of a bulk rebuild: the cases of one partition (by case-id hash), kept in memory from the first
/// event to the last, and the monthly counters of their events.
struct BulkPartition {
    enum Outcome {
        /// Every event of the range was applied.
        case done
        /// An event the bulk path leaves to the event-by-event path (the reason).
        case unusual(String)
        /// The partition will hold more cases than it may, about `estimate` by the end: the rebuild needs more
        /// partitions. Estimated from the partition's first sixteenth (a sample of thousands of cases) or met at the
        /// capacity.
        case full(estimate: Int)
    }

    let partition: Int
    let partitions: Int
    let capacity: Int
    let limit: UInt64
    /// The longest key the store holds.
    let keyLimit: Int
    private(set) var cases = ByteInterner(capacity: 1_024, seeded: true)
    private(set) var records: [CaseRecord] = []
    /// States, units, owners, people, clock names and divisions.
    private(set) var texts = ByteInterner(capacity: 256, seeded: false)
    /// The registrations' parties sections.
    private(set) var partyArena: [UInt8] = []
    private var types = ByteInterner(capacity: 64, seeded: false)
    private var typeFlags: [TypeFlags] = []
    private(set) var tally = MonthTally()
    private var checkedDivisions: [Int32: Bool] = [:]
    private let agreed: Int32
    private let empty: Int32
    /// The partition's events, when it reads only its own (from spill files): its estimates then go by the events it
    /// has read of them, not by positions of the log.
    let events: UInt64?
    /// The events visited so far.
    private var visited: UInt64 = 0
    /// Where the partition estimates how many cases it will hold by the end (events arrive at a steady pace).
    private let estimateAt: UInt64
    private(set) var outcome = Outcome.done
    static let mediationKinds: [Bool] = CaseKind.allCases.map(\.isMediation)

    /// `estimates`: whether the partition gives up early, at its first sixteenth, when it estimates it will end over
    /// its capacity (a pass that can split it says yes; one that can only give way waits until the capacity is met).
    init(
        partition: Int, of partitions: Int, capacity: Int, upTo limit: UInt64, keyLimit: Int, events: UInt64? = nil,
        estimates: Bool = true
    ) {
        self.partition = partition
        self.partitions = partitions
        self.capacity = capacity
        self.limit = limit
        self.keyLimit = keyLimit
        self.events = events
        estimated = !estimates
        estimateAt = max(1, (events ?? limit) / 16)
        empty = texts.intern("")
        agreed = texts.intern("agreed")
    }

    /// How many cases a partition that holds `cases` at `position` will hold at `limit`, if cases keep coming at the
    /// same pace (capped far below `Int.max`, so that no log makes the conversion trap).
    static func estimate(_ cases: Int, at position: UInt64, of limit: UInt64) -> Int {
        Int(min((Double(cases) * Double(limit) / Double(max(1, position))).rounded(.up), Double(Int32.max)))
    }

    /// Which partition a case id with this cheap hash (``ByteInterner/quickHash(_:)``) falls in, so that a thread
    /// skips the other partitions' events without the seeded hash its table uses.
    static func partition(_ quickHash: Int, of partitions: Int) -> Int {
        guard partitions > 1 else { return 0 }
        return Int(UInt64(UInt(bitPattern: quickHash)) % UInt64(partitions))
    }

    /// A case recently looked up: its id's first 16 bytes and length, and its number.
    private struct RecentCase {
        var head: (UInt64, UInt64) = (0, 0)
        var length = -1
        var number: Int32 = 0
    }
    /// Recent lookups of ids of up to 16 bytes, by cheap hash: most events find their case here, without the seeded
    /// hash and the large table (a case's events lie close together in the log).
    private var recent = [RecentCase](repeating: RecentCase(), count: 1 << 14)

    /// ``ByteInterner/quickSeed``, read once.
    private let quickSeed = ByteInterner.quickSeed
    /// Whether the partition has estimated its final size yet (at the first of its events from ``estimateAt`` on).
    private var estimated = false

    /// The case id of a stream id, `nil` for a stream that is not a case's (no built-in view reads its events).
    static func caseID(ofStream stream: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard stream.count >= 5, stream[0] == 0x63, stream[1] == 0x61, stream[2] == 0x73, stream[3] == 0x65,
            stream[4] == 0x2D
        else { return nil }
        return UnsafeRawBufferPointer(rebasing: stream[5...])
    }

    /// Applies one event of the log if its case falls in this partition; `false` ends the scan (see ``outcome``).
    mutating func visit(_ event: borrowing EventView) -> Bool {
        let position = event.position
        return event.withStreamTypeAndMetadata { stream, type, metadata in
            guard let id = Self.caseID(ofStream: stream) else { return true }
            let quickHash = ByteInterner.quickHash(id, seed: quickSeed)
            guard Self.partition(quickHash, of: partitions) == partition else { return true }
            return visit(position: position, case: id, quickHash: quickHash, type: type, metadata: metadata)
        }
    }

    /// Applies one event of this partition's cases (`id` is the case id, `quickHash` its
    /// ``ByteInterner/quickHash(_:)``); `false` ends the scan (see ``outcome``).
    mutating func visit(
        position: UInt64, case id: UnsafeRawBufferPointer, quickHash: Int, type: UnsafeRawBufferPointer,
        metadata: UnsafeRawBufferPointer
    ) -> Bool {
        visited += 1
        // How far the partition has come: by position in the log, or by its own events read.
        let progress = events == nil ? position : visited
        if !estimated, progress >= estimateAt {
            estimated = true
            if records.count >= 4_096 {
                let estimate = Self.estimate(records.count, at: progress, of: events ?? limit)
                if estimate > capacity {
                    outcome = .full(estimate: estimate)
                    return false
                }
            }
        }
        guard let header = HeaderSpan(metadata) else {
            return stop("the case event at position \(position) has a header the bulk path does not read")
        }
        let slot = (quickHash >> 24) & (recent.count - 1)
        let head = id.count <= 16 ? ByteInterner.head(id) : (0, 0)
        let number: Int32
        let isNew: Bool
        if id.count <= 16, recent[slot].length == id.count, recent[slot].head == head {
            (number, isNew) = (recent[slot].number, false)
        } else {
            (number, isNew) = cases.intern(id)
        }
        let index = Int(number)
        let division = UnsafeRawBufferPointer(rebasing: metadata[HeaderSpan.division])
        if isNew {
            guard id.count > 0, id.count < 255, !id.contains(0) else {
                return stop("the case id at position \(position) is empty, too long or holds a zero byte")
            }
            guard records.count < capacity else {
                outcome = .full(estimate: Self.estimate(capacity, at: progress, of: events ?? limit))
                return false
            }
            guard let divisionID = texts.text(division), checkedDivision(divisionID) else {
                return stop("the case event at position \(position) has a header the bulk path does not read")
            }
            records.append(
                CaseRecord(
                    lastEventAt: header.at, division: divisionID, state: empty, unit: empty, owner: empty,
                    kind: header.kind, channel: header.channel, disputeType: header.disputeType,
                    level: header.level, closed: header.closed, lastKind: header.kind,
                    lastChannel: header.channel))
        } else if !texts.equals(records[index].division, division) {
            return stop("the case of position \(position) changes its division")
        }
        if id.count <= 16 { recent[slot] = RecentCase(head: head, length: id.count, number: number) }
        let (typeNumber, newType) = types.intern(type)
        if newType { typeFlags.append(TypeFlags(type: type)) }
        let flags = typeFlags[Int(typeNumber)]
        func field(_ range: Range<Int>) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: metadata[range])
        }
        guard let state = texts.text(field(header.state), current: records[index].state),
            let unit = texts.text(field(header.unit), current: records[index].unit),
            let owner = texts.text(field(header.owner), current: records[index].owner),
            header.owner.count <= 249
        else {
            return stop("a text of the case event at position \(position) is not plain UTF-8 of under 250 bytes")
        }
        var deadline: Int32?
        if !header.deadline.isEmpty {
            guard let name = texts.text(field(header.deadline)), field(header.deadline).allSatisfy({ $0 < 0x80 })
            else { return stop("the clock of the case event at position \(position) is not named in ASCII") }
            // The deadlines view keys a clock by its due time, case id and name: one the store cannot hold stops
            // that view at this event (the event-by-event path reports it), even if a later event ends the clock.
            guard 8 + id.count + 1 + header.deadline.count <= keyLimit else {
                return stop(
                    "the clock of the case event at position \(position) makes a key over the store's limit")
            }
            deadline = name
        }
        var partySection: UnsafeRawBufferPointer?
        if flags.contains(.registered), let parties = header.parties {
            partySection = field(parties.bytes)
        }
        let context = Context(
            agreed: agreed, empty: empty, state: state, unit: unit, owner: owner, deadline: deadline)
        if let reason = Self.apply(
            &records[index], header, flags, metadata, context, &texts, &tally, &partyArena, partySection)
        {
            return stop("the case event at position \(position) \(reason)")
        }
        return true
    }

    private mutating func stop(_ reason: String) -> Bool {
        outcome = .unusual(reason)
        return false
    }

    /// Whether the interned division's digits are a division code (checked once per distinct division).
    private mutating func checkedDivision(_ id: Int32) -> Bool {
        if let known = checkedDivisions[id] { return known }
        let valid = DivisionCode(String(decoding: texts.bytes(id), as: UTF8.self)) != nil
        checkedDivisions[id] = valid
        return valid
    }

    /// Whether each text of a parties section (`str8` reference, `str8` name, role byte, `count` times) or a links
    /// section (relation byte, `str8` id) is valid UTF-8 on its own, as the views decode them one by one (the
    /// section's bounds were checked by ``HeaderSpan``).
    private static func validTexts(_ section: UnsafeRawBufferPointer, count: Int, parties: Bool) -> Bool {
        if section.allSatisfy({ $0 < 0x80 }) { return true }
        var offset = 0
        func text() -> Bool {
            let length = Int(section[offset])
            let bytes = UnsafeRawBufferPointer(rebasing: section[(offset + 1)..<(offset + 1 + length)])
            offset += 1 + length
            return bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
        }
        for _ in 0..<count {
            if parties {
                guard text(), text() else { return false }
                offset += 1  // the role
            } else {
                offset += 1  // the relation
                guard text() else { return false }
            }
        }
        return true
    }

    /// The event's interned texts and the partition's constants.
    struct Context {
        let agreed: Int32
        let empty: Int32
        let state: Int32
        let unit: Int32
        let owner: Int32
        let deadline: Int32?
    }

    /// Applies one event to its case's record; returns why the bulk path cannot, if it cannot.
    // swiftlint:disable:next function_body_length function_parameter_count cyclomatic_complexity
    private static func apply(
        _ r: inout CaseRecord, _ h: HeaderSpan, _ f: TypeFlags, _ metadata: UnsafeRawBufferPointer, _ c: Context,
        _ texts: inout ByteInterner, _ tally: inout MonthTally, _ partyArena: inout [UInt8],
        _ partySection: UnsafeRawBufferPointer?
    ) -> String? {
        // Monthly statistics, from the case's `caseMeta` row before this event.
        let breachedBefore = r.metaPresent && r.metaBreached
        let stateBefore = r.metaPresent ? r.metaState : c.empty
        var bumps: (Int, Int, Int, Int, Int, Int) = (-1, -1, -1, -1, -1, -1)
        var bumpCount = 0
        func bump(_ slot: MonthlyStatisticsProjection.Slot, _ offset: Int = 0) {
            let value = slot.rawValue + offset
            switch bumpCount {
            case 0: bumps.0 = value
            case 1: bumps.1 = value
            case 2: bumps.2 = value
            case 3: bumps.3 = value
            case 4: bumps.4 = value
            default: bumps.5 = value
            }
            bumpCount += 1
        }
        if f.contains(.registered) { bump(.registered) }
        if f.contains(.evaluated) {
            bump(.evaluations)
            if h.rating >= 4 { bump(.satisfied) }
        }
        if f.contains(.escalated) { bump(.escalations) }
        if f.contains(.riskFlagged) { bump(.highRisk) }
        if f.contains(.aidApproved) { bump(.aidApproved) }
        if f.contains(.aidDenied) { bump(.aidDenied) }
        if f.contains(.referred) {
            guard let route = h.route else { return "is a referral whose header has no route" }
            if route < 6 { bump(.referralBase, Int(route)) }
        }
        if f.contains(.reviewDecided) {
            guard let outcome = h.reviewOutcome else { return "is a review decision whose header has no outcome" }
            if outcome < 6 { bump(.reviewBase, Int(outcome)) }
        }
        if let ending = f.reviewEnding { bump(.reviewEndingBase, ending) }
        if f.contains(.closed) {
            bump(.closed)
            if !breachedBefore { bump(.closedOnTime) }
            if mediationKinds[Int(h.kind)] {
                bump(.mediationClosed)
                if stateBefore == c.agreed { bump(.mediationSucceeded) }
            }
        }
        if h.closed {
            if f.contains(.closed) { r.metaPresent = false }
        } else {
            r.metaPresent = true
            r.metaBreached = breachedBefore || (f.contains(.deadlineBreached) && !h.window)
            r.metaState = c.state
        }
        if bumpCount > 0 {
            withUnsafeBytes(of: bumps) { raw in
                tally.count(h.at, r.division, raw.bindMemory(to: Int.self).prefix(min(bumpCount, 6)))
            }
        }

        // The case summary.
        if f.contains(.registered) {
            guard r.registrations == 0 else { return "registers its case a second time" }
            r.registrations = 1
            if let section = partySection, let parties = h.parties {
                guard validTexts(section, count: parties.count, parties: true) else {
                    return "names a party in text that is not UTF-8"
                }
                r.partyStart = Int32(truncatingIfNeeded: partyArena.count)
                r.partyLength = Int32(truncatingIfNeeded: section.count)
                r.partyCount = UInt8(truncatingIfNeeded: parties.count)
                partyArena.append(contentsOf: section)
                guard partyArena.count < Int(Int32.max) else { return "leaves too many parties for one partition" }
            }
        }
        if let links = h.links {
            let section = UnsafeRawBufferPointer(rebasing: metadata[links.bytes])
            guard validTexts(section, count: links.count, parties: false) else {
                return "links a case whose id is not UTF-8"
            }
            if f.contains(.registered) {
                r.links = Array(section)
                r.linkCount = UInt8(truncatingIfNeeded: links.count)
            } else if links.count > 0 {
                guard r.linkCount < 254 else { return "gives its case 255 links" }
                // The first link: its relation byte and its id.
                r.links.append(contentsOf: section[0..<(2 + Int(section[1]))])
                r.linkCount += 1
            }
        } else if (f.contains(.registered) && h.hasLinks) || f.contains(.links) {
            return "has a header written before headers carried links"
        }
        r.state = c.state
        r.level = h.level
        r.unit = c.unit
        r.owner = c.owner
        r.closed = h.closed
        r.lastKind = h.kind
        r.lastChannel = h.channel
        r.lastEventAt = max(r.lastEventAt, h.at)
        if r.events < .max { r.events += 1 }
        if f.contains(.evaluated) { r.rating = h.rating }
        if let deadline = c.deadline {
            if f.contains(.endsClock) {
                if let index = r.openClocks.firstIndex(where: { $0.name == deadline }) {
                    r.openClocks.remove(at: index)
                }
            } else if h.due != 0, !f.contains(.approaching) {
                if let index = r.openClocks.firstIndex(where: { $0.name == deadline }) {
                    r.openClocks[index].due = h.due
                } else {
                    // The summary's row keeps 255 clocks; the view then drops the last by name for good.
                    guard r.openClocks.count < 255 else { return "gives its case over 255 open clocks" }
                    r.openClocks.append(ClockEntry(name: deadline, due: h.due, unit: 0))
                }
            }
        }

        // The deadlines view: running and breached clocks, by name.
        if let deadline = c.deadline, !h.window {
            let listed = r.listed.firstIndex { $0.name == deadline }
            if h.due != 0, f.contains(.setsClock) || (f.contains(.movesClock) && listed != nil) {
                if let listed { r.listed.remove(at: listed) }
                let index = r.listed.firstIndex { !texts.precedes($0.name, deadline) } ?? r.listed.endIndex
                r.listed.insert(ClockEntry(name: deadline, due: h.due, unit: c.unit), at: index)
            } else if f.contains(.unlistsClock), let listed {
                r.listed.remove(at: listed)
            }
        }
        if h.closed {
            if !r.listed.isEmpty { r.listed.removeAll() }
        } else if f.contains(.handedOff) || f.contains(.escalated) {
            for index in r.listed.indices { r.listed[index].unit = c.unit }
        }

        // Workload: who the case counts for.
        if h.closed {
            r.peoplePresent = false
            if !r.helpers.isEmpty { r.helpers.removeAll() }
        } else {
            if f.contains(.namesHelpers) {
                r.helpers.removeAll()
                if let people = h.people {
                    var offset = people.bytes.lowerBound
                    for _ in 0..<people.count {
                        let length = Int(metadata[offset])
                        let bytes = UnsafeRawBufferPointer(rebasing: metadata[(offset + 1)..<(offset + 1 + length)])
                        guard let person = texts.text(bytes) else { return "names a person in text that is not UTF-8" }
                        r.helpers.append(person)
                        offset += 1 + length
                    }
                }
            } else if (f.contains(.escalated) || !r.peoplePresent), !r.helpers.isEmpty {
                r.helpers.removeAll()
            }
            r.peoplePresent = true
        }
        return nil
    }
}
