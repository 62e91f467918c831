public import CaseLedgerLog
public import CaseLedgerWorkflow
import Foundation
public import Logging
import Synchronization

/// The case workflow on an event log: each command is checked by the workflow against the case's definition
/// version and, only when the rules allow it, appended as events under the log's group commit.
///
/// A case is the log stream `case-<id>`; its records are JSON ``WorkflowRecord``s (event type = the record's event
/// name, schema version = ``CaseEvent/schemaVersion``). Reading a case folds only events in that version: older ones
/// go through ``Configuration/upcasters``, and any other version fails with `unsupportedSchema`. Concurrent commands on one case are serialised by expected versions: a command that
/// loses the race re-reads the case and is decided again. States are cached in memory (bounded) and always
/// re-derivable from the log.
///
/// - Important: Open one engine per store per process; a second process writing the same store is safe (expected
///   versions catch every race), but this engine's clock index only learns of its cases at the first ``tick(now:)``.
public final class CaseEngine: Sendable {
    /// What the engine decides with.
    public struct Configuration: Sendable {
        public var directory: Directory
        public var calendar: HolidayCalendar
        public var definitions: DefinitionRegistry
        /// How often a command is decided again after losing a race on its case.
        public var maxAttempts: Int = 16
        /// Case states kept in memory.
        public var cacheCapacity: Int = 100_000
        /// Cases one tick append covers.
        public var tickBatchSize: Int = 256
        /// Rewrites events of older payload schemas before the workflow folds them.
        public var upcasters = UpcasterChain()

        public init(directory: Directory, calendar: HolidayCalendar, definitions: DefinitionRegistry) {
            self.directory = directory
            self.calendar = calendar
            self.definitions = definitions
        }
    }

    /// The log the engine writes.
    public let log: any EventLog
    private let clock: any EventClock
    private let logger: Logger
    private let configuration: Mutex<Configuration>
    private let cache: Mutex<StateCache>
    private let dueIndex: Mutex<DueIndex>
    /// For tests: runs after `execute` found its idempotency key unused, before it decides (tests commit the same
    /// command from another engine there, as a retry racing its original).
    private let afterKeyCheck = Mutex<(@Sendable () async -> Void)?>(nil)
    package func setAfterKeyCheck(_ body: (@Sendable () async -> Void)?) { afterKeyCheck.withLock { $0 = body } }
    /// Test hook: runs after a command (or a tick's round) is decided and before its records are appended.
    private let beforeAppend = Mutex<(@Sendable () async -> Void)?>(nil)
    package func setBeforeAppend(_ body: (@Sendable () async -> Void)?) { beforeAppend.withLock { $0 = body } }

    /// Cases with clocks to fire, by the earliest instant they need a tick, with the case version that instant
    /// comes from (an older version never overwrites a newer one).
    struct DueIndex {
        /// Set once the log has been scanned; until then, commands still record their cases here.
        var built = false
        var entries: [CaseID: (version: UInt64, due: Instant?)] = [:]

        mutating func note(_ id: CaseID, version: UInt64, due: Instant?) {
            if let existing = entries[id], existing.version > version { return }
            if due == nil && built {
                entries[id] = nil
            } else {
                entries[id] = (version, due)
            }
        }
    }

    /// Creates an engine over `log`. Time comes only from `clock`.
    public init(log: any EventLog, configuration: Configuration, clock: any EventClock = SystemClock(), logger: Logger)
    {
        self.log = log
        self.clock = clock
        self.logger = logger
        self.configuration = Mutex(configuration)
        self.cache = Mutex(StateCache())
        self.dueIndex = Mutex(DueIndex())
    }

    /// Replaces the directory (units and people change; cases keep their history).
    public func updateDirectory(_ directory: Directory) {
        configuration.withLock { $0.directory = directory }
    }

    /// Replaces the holiday calendar, e.g. when the State Council publishes next year's notice. Clocks counted
    /// provisionally are counted again when their case is next ticked or commanded.
    public func updateCalendar(_ calendar: HolidayCalendar) {
        configuration.withLock { $0.calendar = calendar }
        // Rescan at the next tick, which visits every case with a provisional clock so it is counted again.
        dueIndex.withLock { $0 = DueIndex() }
        cache.withLock { $0.removeAll() }
    }

    /// The log stream of a case.
    public static func streamID(of caseID: CaseID) -> String { "case-\(caseID.rawValue)" }

    static func lockStreamID(of act: String) -> String { "lock-act-\(act)" }

    // MARK: Commands

    /// What an accepted command wrote.
    public struct Outcome: Sendable {
        /// The case's state after the command.
        public var state: CaseState
        /// The records written, per case (the command's case first; referrals add the cases they create).
        public var records: [(caseID: CaseID, records: [WorkflowRecord])]
        /// The log positions of the append.
        public var positions: ClosedRange<UInt64>
        /// `true` when the idempotency key was seen before and nothing was written.
        public var wasDuplicate: Bool
    }

    /// Checks a command against the case's rules and, when they allow it, appends its events durably.
    ///
    /// - Parameters:
    ///   - idempotencyKey: when set, a repeated command with the same key writes nothing again.
    /// - Throws: ``WorkflowError``: the rule and case for a rejected command (nothing written), `storage` for a
    ///   log failure, `conflict` when the case kept changing under the command; `notAuthorized` for the actor
    ///   ``PersonID/system``, which only the engine's clock (``tick(now:)``) acts as.
    @discardableResult
    public func execute(
        _ command: CaseCommand, on caseID: CaseID, by actor: PersonID, idempotencyKey: String? = nil
    ) async throws(WorkflowError) -> Outcome {
        // The clock's own commands (deemed acceptance, opening arbitration, …) and its rule exemptions are the
        // engine's: a caller acting as `system` would skip the periods those commands wait for.
        guard actor != .system else {
            throw WorkflowError(
                .notAuthorized, case: caseID,
                "the actor 'system' is reserved for the engine's clock ticks; name the person acting")
        }
        let attempts = configuration.withLock { $0.maxAttempts }
        if let key = idempotencyKey, let stored = try storedResult(key, caseID: caseID) {
            return try duplicateOutcome(stored, key: key, caseID: caseID)
        }
        if let hook = afterKeyCheck.withLock({ $0 }) { await hook() }
        for attempt in 1...max(1, attempts) {
            let config = configuration.withLock { $0 }
            let now = Instant(clock.now())
            try Self.requirePlausible(now, "the engine's clock", caseID: caseID)
            // A remembered state is not checked against the log here (one look-up per command): a command decided
            // on a state another process moved on meets a version conflict when it appends, and one refused on it is
            // checked below.
            let (state, remembered) = try state(of: caseID, checkingTheLog: false)
            var lockVersions: [String: UInt64] = [:]
            var locks: [String: ProceedingLock] = [:]
            for act in Workflow.actReferences(of: command, state: state) {
                let (lock, version) = try loadLock(act, caseID: caseID)
                locks[act] = lock
                lockVersions[act] = version
            }
            var existing = Set<CaseID>()
            for other in Self.createdCases(by: command, caseID: caseID) where try streamVersion(other) > 0 {
                existing.insert(other)
            }
            let context = DecisionContext(
                directory: config.directory, calendar: config.calendar, definitions: config.definitions, now: now,
                actor: actor, locks: locks, existingCases: existing)
            let decision: Decision
            do {
                decision = try Workflow.decide(command, for: caseID, state: state, context: context)
            } catch {
                // Refused on a remembered state: decide again if another process has moved the case on since.
                if remembered, let state, try streamVersion(caseID) != state.version {
                    invalidate([caseID])
                    continue
                }
                // A retry that raced its original meets the state the original left: the original's result, not a
                // refusal of the command it already carried out.
                if let key = idempotencyKey, let stored = try storedResult(key, caseID: caseID) {
                    return try duplicateOutcome(stored, key: key, caseID: caseID)
                }
                throw error
            }
            let request = try appendRequest(
                for: decision, lockVersions: lockVersions, readLocks: Set(lockVersions.keys),
                actorUnit: decision.states[caseID]?.unit,
                idempotencyKey: idempotencyKey, caseID: caseID, definitions: config.definitions)
            if let hook = beforeAppend.withLock({ $0 }) { await hook() }
            let appended: AppendResult?
            do {
                appended = try await appendUnlessConflict(request, caseID: caseID)
            } catch let error where error.rule == "idempotency" {
                // The same key was stored by a request decided a moment earlier (a retry racing the original).
                guard let key = idempotencyKey, let stored = try storedResult(key, caseID: caseID) else { throw error }
                return try duplicateOutcome(stored, key: key, caseID: caseID)
            }
            guard let result = appended else {
                invalidate(decision.cases.map(\.caseID))
                logger.debug(
                    "the case or an act's lock changed concurrently; deciding again",
                    metadata: ["case.id": "\(caseID)", "attempt": "\(attempt)", "command": "\(command.name)"])
                continue
            }
            if result.wasDuplicate {
                invalidate(decision.cases.map(\.caseID))
                guard let current = try self.state(of: caseID) ?? decision.states[caseID] else {
                    throw WorkflowError(.unknownCase, case: caseID, "case not found")
                }
                return Outcome(state: current, records: [], positions: result.positions, wasDuplicate: true)
            }
            remember(decision.states, capacity: config.cacheCapacity)
            warnAboutProvisionalClocks(decision)
            guard let after = decision.states[caseID] else {
                throw WorkflowError(.corruptHistory, case: caseID, "the decision lost its own case")
            }
            return Outcome(
                state: after, records: decision.cases.map { ($0.caseID, $0.records) }, positions: result.positions,
                wasDuplicate: false)
        }
        throw WorkflowError(
            .conflict, case: caseID,
            "the case or an act's lock changed concurrently \(attempts) times; retry the command")
    }

    /// Appends; `nil` when a stream was not at its expected version (the caller decides again).
    private func appendUnlessConflict(_ request: AppendRequest, caseID: CaseID?) async throws(WorkflowError)
        -> AppendResult?
    {
        do {
            return try await log.append(request)
        } catch {
            switch error.code {
            case .wrongExpectedVersion:
                return nil
            case .idempotencyKeyReused:
                throw WorkflowError(
                    .invalidField, case: caseID, rule: "idempotency",
                    "the idempotency key is stored for another request: \(error.message)")
            case .invalidStreamID, .eventTooLarge, .invalidIdempotencyKey, .invalidRequest:
                throw WorkflowError(
                    .invalidField, case: caseID,
                    "the log refused the command's input (\(error.code)): \(error.message); shorten the case id, "
                        + "key or text")
            default:
                throw WorkflowError(.storage, case: caseID, "the event log refused the append: \(error)")
            }
        }
    }

    /// The answer to a repeated idempotency key: the first result, when the key was used for this case.
    private func duplicateOutcome(_ stored: AppendResult, key: String, caseID: CaseID) throws(WorkflowError)
        -> Outcome
    {
        guard stored.streams.contains(where: { $0.streamID == Self.streamID(of: caseID) }) else {
            throw WorkflowError(
                .invalidField, case: caseID, rule: "idempotency",
                "idempotency key '\(key)' was used for a command on another case; use a new key")
        }
        guard let current = try state(of: caseID) else {
            throw WorkflowError(.unknownCase, case: caseID, "the idempotency key's case is not in the log")
        }
        return Outcome(state: current, records: [], positions: stored.positions, wasDuplicate: true)
    }

    private func storedResult(_ key: String, caseID: CaseID) throws(WorkflowError) -> AppendResult? {
        do {
            return try log.appendResult(forIdempotencyKey: key)
        } catch {
            throw WorkflowError(.storage, case: caseID, "looking up the idempotency key failed: \(error)")
        }
    }

    /// Logs a warning for each clock counted in a year the holiday calendar does not cover.
    private func warnAboutProvisionalClocks(_ decision: Decision) {
        for c in decision.cases {
            for record in c.records {
                let end: PeriodEnd
                let id: String
                switch record.event {
                case .deadlineSet(let d): (end, id) = (d.end, d.id)
                case .deadlineResumed(let i, let e), .deadlineExtended(let i, _, let e, _, _): (end, id) = (e, i)
                default: continue
                }
                guard end.provisional else { continue }
                logger.warning(
                    "clock counted without the holiday notice for its year; it is provisional until that year is loaded",
                    metadata: ["case.id": "\(c.caseID)", "deadline": "\(id)", "due": "\(end.dueAt)"])
            }
        }
    }

    static func createdCases(by command: CaseCommand, caseID: CaseID) -> [CaseID] {
        switch command {
        case .register: return [caseID]
        case .refer(let referral): return [referral.newCase] + (referral.legalAid.map { [$0.aidCase] } ?? [])
        case .convertToCase(let newCase, _): return [newCase]
        default: return []
        }
    }

    private func appendRequest(
        for decision: Decision, lockVersions: [String: UInt64], readLocks: Set<String>, actorUnit: UnitID?,
        idempotencyKey: String?, caseID: CaseID, definitions: DefinitionRegistry
    ) throws(WorkflowError) -> AppendRequest {
        let correlation = UUID.randomV4()
        let encoder = StreamingJSONEncoder()
        var streams: [StreamAppend] = []
        do {
            for c in decision.cases where !c.records.isEmpty {
                let after = decision.states[c.caseID]
                let unit = after?.unit.rawValue ?? actorUnit?.rawValue ?? ""
                let closed =
                    after.map { state in
                        definitions.definition(kind: state.kind, version: state.definitionVersion)?.isTerminal(
                            state.state)
                            ?? false
                    } ?? false
                let events = try c.records.map { record in
                    NewEvent(
                        type: record.event.name, schemaVersion: record.event.schemaVersion,
                        actor: EventActor(userID: record.actor.rawValue, role: "", unit: unit),
                        correlationID: correlation,
                        metadata: after.map { RecordHeader(record: record, state: $0, closed: closed).bytes } ?? [],
                        payload: try encoder.encode(record))
                }
                streams.append(
                    StreamAppend(
                        streamID: Self.streamID(of: c.caseID),
                        expectedVersion: c.expectedVersion == 0 ? .noStream : .exact(Int64(c.expectedVersion)),
                        events: events))
            }
            for lock in decision.locks {
                let version = lockVersions[lock.act] ?? 0
                streams.append(
                    StreamAppend(
                        streamID: Self.lockStreamID(of: lock.act),
                        expectedVersion: version == 0 ? .noStream : .exact(Int64(version)),
                        events: [
                            NewEvent(
                                type: "proceedingLock", actor: EventActor(userID: "system", role: "", unit: ""),
                                correlationID: correlation, payload: try encoder.encode(lock))
                        ]))
            }
        } catch {
            throw WorkflowError(.storage, case: caseID, "a record could not be encoded: \(error)")
        }
        // AR4 locks the decision read but did not change: checked, not written, so that a lock another command takes
        // meanwhile makes this append a version conflict (and the command is decided again) instead of letting two
        // proceedings on one act through.
        if !streams.isEmpty {
            let written = Set(decision.locks.map(\.act))
            for act in readLocks.subtracting(written).sorted() {
                let version = lockVersions[act] ?? 0
                streams.append(
                    StreamAppend(
                        streamID: Self.lockStreamID(of: act),
                        expectedVersion: version == 0 ? .noStream : .exact(Int64(version)), events: []))
            }
        }
        return AppendRequest(streams: streams, idempotencyKey: idempotencyKey)
    }

    // MARK: Reading

    /// The case's current state (from memory, or folded from the log), or `nil` when no such case exists.
    ///
    /// A remembered state is used only while the log's stream is still at its version: another process (or another
    /// engine on the same log) may have appended to the case since, and a rule decided on the older state would
    /// wrongly refuse a command.
    public func state(of caseID: CaseID) throws(WorkflowError) -> CaseState? {
        try state(of: caseID, checkingTheLog: true).state
    }

    /// The case's state, and whether it was remembered rather than folded now; a remembered one is checked against
    /// the stream's version in the log when `checkingTheLog` is set.
    private func state(of caseID: CaseID, checkingTheLog: Bool) throws(WorkflowError) -> (
        state: CaseState?, remembered: Bool
    ) {
        if let cached = cache.withLock({ $0[caseID] }) {
            if !checkingTheLog { return (cached, true) }
            if try streamVersion(caseID) == cached.version { return (cached, true) }
        }
        guard let state = try replayState(of: caseID) else { return (nil, false) }
        let capacity = configuration.withLock { $0.cacheCapacity }
        remember([caseID: state], capacity: capacity)
        return (state, false)
    }

    /// Folds the case's state from the log, ignoring the cache: what an auditor's replay computes.
    public func replayState(of caseID: CaseID) throws(WorkflowError) -> CaseState? {
        let definitions = configuration.withLock { $0.definitions }
        return try CaseState.fold(id: caseID, records: history(of: caseID), definitions: definitions)
    }

    /// The case's records in order; empty for an unknown case.
    public func history(of caseID: CaseID) throws(WorkflowError) -> [WorkflowRecord] {
        let stream = Self.streamID(of: caseID)
        let decoder = JSONDecoder()
        let upcasters = configuration.withLock { $0.upcasters }
        var records: [WorkflowRecord] = []
        var next: UInt64 = 1
        while true {
            let batch: [RecordedEvent]
            do {
                batch = try log.read(stream: stream, from: next, direction: .forwards, limit: 512)
            } catch {
                throw WorkflowError(.storage, case: caseID, "reading the case failed: \(error)")
            }
            for event in batch {
                var payload = Array(event.payload)
                var version = event.schemaVersion
                do {
                    if !upcasters.isEmpty,
                        let current = try upcasters.upcast(
                            type: event.type, schemaVersion: version, metadata: Array(event.metadata),
                            payload: payload)
                    {
                        (version, payload) = (current.schemaVersion, current.payload)
                    }
                } catch {
                    throw WorkflowError(
                        .corruptHistory, case: caseID,
                        "the upcasters failed on the event at position \(event.position) (\(event.type), schema "
                            + "version \(event.schemaVersion)): \(error)")
                }
                try Self.requireCurrentSchema(event, upcastTo: version, caseID: caseID)
                do {
                    records.append(try decoder.decode(WorkflowRecord.self, from: Data(payload)))
                } catch {
                    throw WorkflowError(
                        .corruptHistory, case: caseID,
                        "the event at position \(event.position) (\(event.type)) does not decode: \(error)")
                }
            }
            guard let last = batch.last, batch.count == 512 else { break }
            next = last.streamVersion + 1
        }
        return records
    }

    /// Throws `unsupportedSchema` unless `event`, upcast to `version`, is in the schema this release folds.
    static func requireCurrentSchema(
        _ event: RecordedEvent, upcastTo version: UInt32, caseID: CaseID
    ) throws(WorkflowError) {
        let current = CaseEvent.currentSchemaVersion(ofType: event.type)
        guard version != current else { return }
        let stored = event.schemaVersion
        let what = "the event at position \(event.position) (\(event.type)) is stored in schema version \(stored)"
        let message: String
        if stored > current {
            message =
                "\(what), newer than version \(current), which this release reads: it was written by a newer "
                + "CaseLedger; read the store with that release or a later one"
        } else if version > current {
            message =
                "\(what), and the configured upcasters carried it to version \(version), past version \(current), "
                + "which this release writes and reads: remove the upcasters from version \(current) on of "
                + "'\(event.type)' from the engine's configuration"
        } else {
            let carried = version == stored ? "" : " (the upcasters carried it to \(version))"
            message =
                "\(what), older than version \(current), which this release reads\(carried): configure the "
                + "upcasters the release that changed '\(event.type)' ships"
        }
        throw WorkflowError(.unsupportedSchema, case: caseID, message)
    }

    private func streamVersion(_ caseID: CaseID) throws(WorkflowError) -> UInt64 {
        do {
            return try log.version(ofStream: Self.streamID(of: caseID))
        } catch {
            throw WorkflowError(.storage, case: caseID, "reading the case failed: \(error)")
        }
    }

    private func loadLock(_ act: String, caseID: CaseID) throws(WorkflowError) -> (ProceedingLock, UInt64) {
        guard act.utf8.count <= 180 else {
            throw WorkflowError(.invalidField, case: caseID, rule: "AR4", "the act reference is over 180 bytes")
        }
        do {
            let last = try log.read(
                stream: Self.lockStreamID(of: act), from: .max, direction: .backwards, limit: 1)
            guard let event = last.first else { return (ProceedingLock(act: act), 0) }
            let lock = try JSONDecoder().decode(ProceedingLock.self, from: Data(event.payload))
            return (lock, event.streamVersion)
        } catch {
            throw WorkflowError(
                .storage, case: caseID, rule: "AR4", "reading the lock on act '\(act)' failed: \(error)")
        }
    }

    private func remember(_ states: [CaseID: CaseState], capacity: Int) {
        let fresh = cache.withLock { cache in
            // A state older than the cached one (a slower writer finishing late) is dropped.
            let fresh = states.filter { id, state in (cache[id]?.version ?? 0) <= state.version }
            for (id, state) in fresh { cache.set(id, state) }
            cache.trim(to: capacity)
            return fresh
        }
        dueIndex.withLock { index in
            for (id, state) in fresh { index.note(id, version: state.version, due: Self.nextVisit(state)) }
        }
    }

    /// When the tick must visit a case: its next clock, or at once for a clock counted provisionally (so it is
    /// counted again as soon as the calendar covers it).
    static func nextVisit(_ state: CaseState) -> Instant? {
        if state.deadlines.contains(where: { $0.isOpen && $0.end.provisional }) {
            return Instant(microsecondsSinceEpoch: 0)
        }
        return Workflow.nextDue(state)
    }

    /// Throws `invalidField` for a time outside 1900–2200 (nanoseconds passed as microseconds, a clock gone wrong): a
    /// tick at it would breach every clock at once and date the cases it touches centuries ahead.
    static func requirePlausible(_ now: Instant, _ what: String, caseID: CaseID? = nil) throws(WorkflowError) {
        guard !now.isPlausible else { return }
        throw WorkflowError(
            .invalidField, case: caseID,
            "\(what) is \(now), not a time between 1900 and 2200: give microseconds since 1970, or set the clock")
    }

    /// Whether `error`, met reading or deciding one case, says something about that case alone (its history, its
    /// definition version, its schema) rather than about the store or a race, which concern every case.
    static func concernsTheCaseAlone(_ error: WorkflowError) -> Bool {
        error.code != .storage && error.code != .conflict
    }

    private func invalidate(_ ids: [CaseID]) {
        cache.withLock { cache in for id in ids { cache.remove(id) } }
    }

    // MARK: Clocks

    /// What a tick fired.
    public struct TickReport: Sendable, Hashable {
        /// Cases that had something due.
        public var cases = 0
        /// Records written.
        public var events = 0
        public var warnings = 0
        public var breaches = 0
        /// Commands fired by breaches (deemed acceptance, arbitration or litigation opened, abandonment).
        public var automaticCommands = 0
        /// Cases the tick could not read or decide (a history that does not fold, an event of a schema this release
        /// does not read, a definition version that is not loaded), with why: each is logged and skipped, so one case
        /// never stops the clocks of the others. They stay due, and are tried again at the next tick.
        public var failedCases: [CaseID: String] = [:]
        /// Cases with a clock past due whose breach waits for the holiday calendar: the command it fires would
        /// start a clock in a year the calendar does not cover (the `refuse` policy). They fire at the first tick
        /// after ``updateCalendar(_:)`` loads that year, counted from the clock's own end.
        public var waitingForCalendar = 0
    }

    /// Fires every clock due at `now` (the engine's clock when `nil`): approaching warnings, breaches, and the
    /// commands attached to breaches, case by case in order of due time, then case id. Running it twice at the same
    /// time writes nothing the second time.
    ///
    /// The first tick scans the log for cases with clocks; later ticks use the index that commands keep.
    @discardableResult
    public func tick(now: Instant? = nil) async throws(WorkflowError) -> TickReport {
        let now = now ?? Instant(clock.now())
        try Self.requirePlausible(now, "the tick's time")
        try buildDueIndexIfNeeded()
        let due = dueIndex.withLock { index in
            index.entries.compactMap { id, entry in entry.due.flatMap { $0 <= now ? (id, $0) : nil } }
                .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
        }
        var report = TickReport()
        let batchSize = configuration.withLock { max(1, $0.tickBatchSize) }
        var start = 0
        while start < due.count {
            let chunk = Array(due[start..<min(due.count, start + batchSize)])
            start += chunk.count
            try await tickChunk(chunk, now: now, report: &report)
        }
        if report.cases > 0 {
            logger.info(
                "clocks fired",
                metadata: [
                    "cases": "\(report.cases)", "breaches": "\(report.breaches)", "warnings": "\(report.warnings)",
                ])
        }
        if !report.failedCases.isEmpty {
            for (id, why) in report.failedCases.sorted(by: { $0.key.rawValue < $1.key.rawValue }).prefix(10) {
                logger.error(
                    "a case's clocks cannot be ticked; the others go on",
                    metadata: ["case": "\(id)", "error": "\(why)"])
            }
            logger.error(
                "cases skipped by the tick; they are tried again at the next one",
                metadata: ["cases": "\(report.failedCases.count)"])
        }
        if report.waitingForCalendar > 0 {
            logger.warning(
                """
                clocks past due wait for the holiday calendar: the commands they fire would start clocks in a year \
                it does not cover; load that year's notice with updateCalendar(_:)
                """,
                metadata: ["cases": "\(report.waitingForCalendar)"])
        }
        return report
    }

    private func tickChunk(_ chunk: [CaseID], now: Instant, report: inout TickReport) async throws(WorkflowError) {
        let attempts = configuration.withLock { $0.maxAttempts }
        var pending = chunk
        // Counted once per case, whatever the rounds a conflict makes the chunk take.
        var waiting = Set<CaseID>()
        defer { report.waitingForCalendar += waiting.count }
        for _ in 1...max(1, attempts) {
            guard !pending.isEmpty else { return }
            let config = configuration.withLock { $0 }
            var decisions: [Decision] = []
            var lockVersions: [String: UInt64] = [:]
            var lockedActs = Set<String>()
            var readLocks = Set<String>()
            var roundLocks: [String: ProceedingLock] = [:]
            var deferred: [CaseID] = []
            for id in pending {
                let state: CaseState
                do {
                    guard let read = try self.state(of: id) else { continue }
                    state = read
                } catch  where Self.concernsTheCaseAlone(error) {
                    report.failedCases[id] = error.message
                    continue
                }
                var locks: [String: ProceedingLock] = [:]
                let acts = Workflow.actReferences(of: .deemAccept, state: state)
                if acts.contains(where: lockedActs.contains) {
                    deferred.append(id)
                    continue
                }
                for act in acts {
                    // Read once per round, so that every decision of the round saw the version the request checks.
                    if let known = roundLocks[act] {
                        locks[act] = known
                        continue
                    }
                    let (lock, version) = try loadLock(act, caseID: id)
                    locks[act] = lock
                    roundLocks[act] = lock
                    lockVersions[act] = version
                }
                let context = DecisionContext(
                    directory: config.directory, calendar: config.calendar, definitions: config.definitions, now: now,
                    actor: .system, locks: locks)
                let decided: Decision?
                do {
                    decided = try Workflow.tick(state, context: context)
                } catch  where Self.concernsTheCaseAlone(error) {
                    report.failedCases[id] = error.message
                    continue
                }
                guard let decision = decided else {
                    remember([id: state], capacity: config.cacheCapacity)
                    // A clock past due that fired nothing: its breach waits for the calendar.
                    if let due = Workflow.nextDue(state), due <= now { waiting.insert(id) }
                    continue
                }
                for lock in decision.locks { lockedActs.insert(lock.act) }
                // The merged request checks every lock a decision read at the version read (one per round: below).
                readLocks.formUnion(acts)
                decisions.append(decision)
            }
            guard !decisions.isEmpty else {
                pending = deferred
                continue
            }
            var merged = Decision(cases: [], locks: [], states: [:])
            for d in decisions {
                merged.cases += d.cases
                merged.locks += d.locks
                merged.states.merge(d.states) { _, new in new }
            }
            let request = try appendRequest(
                for: merged, lockVersions: lockVersions, readLocks: readLocks, actorUnit: nil, idempotencyKey: nil,
                caseID: pending[0], definitions: config.definitions)
            if let hook = beforeAppend.withLock({ $0 }) { await hook() }
            guard try await appendUnlessConflict(request, caseID: pending.first) != nil else {
                invalidate(merged.cases.map(\.caseID))
                continue
            }
            remember(merged.states, capacity: config.cacheCapacity)
            for c in merged.cases where !c.records.isEmpty {
                report.cases += 1
                report.events += c.records.count
                for r in c.records {
                    switch r.event {
                    case .deadlineApproaching: report.warnings += 1
                    case .deadlineBreached: report.breaches += 1
                    default: if r.transition != nil { report.automaticCommands += 1 }
                    }
                }
            }
            pending = deferred
        }
        if !pending.isEmpty {
            throw WorkflowError(.conflict, case: pending.first, "cases kept changing during the tick; tick again")
        }
    }

    private func buildDueIndexIfNeeded() throws(WorkflowError) {
        if dueIndex.withLock({ $0.built }) { return }
        var candidates = Set<String>()
        do {
            try log.forEachEvent(from: 1) { event in
                if event.typeIs("deadlineSet") { candidates.insert(event.streamID) }
                return true
            }
        } catch {
            throw WorkflowError(.storage, case: nil, "scanning the log for clocks failed: \(error)")
        }
        var found: [(CaseID, UInt64, Instant?)] = []
        for stream in candidates where stream.hasPrefix("case-") {
            let id = CaseID(String(stream.dropFirst(5)))
            do {
                if let state = try state(of: id) { found.append((id, state.version, Self.nextVisit(state))) }
            } catch  where Self.concernsTheCaseAlone(error) {
                // Listed as due now, so every tick tries it again and reports it, and the others go on.
                logger.error(
                    "a case's clocks cannot be read; the others go on",
                    metadata: ["case": "\(id)", "error": "\(error)"])
                found.append((id, 0, Instant(microsecondsSinceEpoch: 0)))
            }
        }
        dueIndex.withLock { index in
            // Commands that ran during the scan noted newer versions; `note` keeps those.
            for (id, version, due) in found { index.note(id, version: version, due: due) }
            index.built = true
            for (id, entry) in index.entries where entry.due == nil { index.entries[id] = nil }
        }
    }
}

extension Instant {
    /// The same moment as a log timestamp.
    public init(_ timestamp: Timestamp) {
        self.init(microsecondsSinceEpoch: timestamp.microsecondsSinceEpoch)
    }
}

extension Timestamp {
    /// The same moment as a workflow instant.
    public init(_ instant: Instant) {
        self.init(microsecondsSinceEpoch: instant.microsecondsSinceEpoch)
    }
}
