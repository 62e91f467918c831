import ArgumentParser
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import Synchronization

/// An engine for reading: the store's directory when it has one (reading needs none), refusing clocks past the
/// calendar (reading sets none).
func readingEngine(_ store: OpenStore) throws -> CaseEngine {
    let directory = (try? store.directory()) ?? Directory()
    return try engine(
        log: store.log, options: store.options, directory: directory, calendar: try readingCalendar(),
        clock: SystemClock())
}

/// The stored events of a case stream, in order.
func streamEvents(_ log: LMDBEventLog, _ caseID: CaseID) throws -> [RecordedEvent] {
    var events: [RecordedEvent] = []
    let stream = CaseEngine.streamID(of: caseID)
    while true {
        let batch = try log.read(
            stream: stream, from: UInt64(events.count + 1), direction: .forwards, limit: 1_024)
        events += batch
        if batch.count < 1_024 { return events }
    }
}

// MARK: replay

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a case's full timeline, with the state after each event.",
        discussion: """
            Each event: its time, actor, owning unit and level after it, the event, a sentence saying what \
            happened, and the state after it. --at shows the case as it was at that time (events after it are \
            left out). The state is folded from the log through the case's definition version, as an audit needs.

            Examples:
              caseledger replay --store /tmp/jingyan --case 2025-c01-000042
              caseledger replay --store /tmp/jingyan --case 2025-c01-000042 --at 2025-03-01T12:00 --json
            """)

    @OptionGroup var options: StoreOptions

    @Option(name: .customLong("case"), help: "The case id.")
    var caseID: String

    @Option(help: "Show the case as it was at this time (YYYY-MM-DD[THH:MM[:SS]] in Asia/Shanghai, or ISO 8601).")
    var at: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let at, parseTime(at) == nil { throw ValidationError("--at '\(at)' is not a date or time") }
    }

    func run() async throws {
        try await running("replay") {
            let store = try OpenStore(options)
            defer { store.close() }
            let engine = try readingEngine(store)
            let id = CaseID(caseID)
            var records = try engine.history(of: id)
            guard !records.isEmpty else { throw ToolError("no case '\(caseID)' in the store") }
            let stored = try streamEvents(store.log, id)
            let limit = at.flatMap(parseTime)
            if let limit {
                records = Array(records.prefix { $0.at <= limit })
                guard !records.isEmpty else {
                    throw ToolError("case '\(caseID)' was registered after \(at ?? "")", status: Status.checkFailed)
                }
            }
            let definitions = try options.definitions()
            var rows: [[String: Any]] = []
            var state: CaseState?
            for (index, record) in records.enumerated() {
                state = try CaseState.fold(id: id, records: records[...index], definitions: definitions)
                var row: [String: Any] = [
                    "at": show(record.at), "actor": record.actor.rawValue, "event": record.event.name,
                    "sentence": sentence(for: record.event, actor: record.actor),
                ]
                if index < stored.count {
                    row["position"] = stored[index].position
                    row["version"] = stored[index].streamVersion
                }
                if let state {
                    row["unit"] = state.unit.rawValue
                    row["level"] = state.level.rawValue
                    row["state"] = state.state
                }
                rows.append(row)
            }
            if json {
                var output: [String: Any] = ["case": caseID, "events": rows]
                if let at { output["at"] = at }
                if let state { output["state"] = Self.summary(state) }
                print(jsonLine(output))
                return
            }
            if let state {
                print(
                    "Case \(caseID): \(state.kind) (definition \(state.definitionVersion)), \(records.count) events"
                        + (at.map { " up to \($0)" } ?? ""))
            }
            print(
                table(
                    ["TIME", "ACTOR", "UNIT", "LEVEL", "EVENT", "STATE AFTER"],
                    rows.map {
                        [
                            $0["at"] as? String ?? "", $0["actor"] as? String ?? "", $0["unit"] as? String ?? "",
                            $0["level"] as? String ?? "", $0["event"] as? String ?? "", $0["state"] as? String ?? "",
                        ]
                    }))
            print("")
            for row in rows {
                print("\(row["at"] as? String ?? "")  \(row["sentence"] as? String ?? "")")
            }
            if let state {
                let summary = Self.summary(state)
                print("")
                print(
                    "State\(at.map { " at \($0)" } ?? ""): \(state.state), level \(state.level), unit \(state.unit), "
                        + "owner \(state.owner)\(state.closedAt.map { ", closed \(show($0))" } ?? "")")
                for clock in summary["clocks"] as? [[String: Any]] ?? [] {
                    print(
                        "  clock \(clock["id"] as? String ?? "") (\(clock["status"] as? String ?? "")): due "
                            + (clock["due"] as? String ?? ""))
                }
            }
        }
    }

    static func summary(_ state: CaseState) -> [String: Any] {
        var out: [String: Any] = [
            "kind": state.kind.rawValue, "definitionVersion": state.definitionVersion, "state": state.state,
            "level": state.level.rawValue, "unit": state.unit.rawValue, "owner": state.owner.rawValue,
            "version": state.version, "registeredAt": show(state.registeredAt),
            // Every clock not stopped: running, paused, or breached (still owed, and overdue).
            "clocks": state.deadlines.filter { $0.status != .stopped }.map {
                ["id": $0.id, "due": show($0.end.dueAt), "status": $0.status.rawValue]
            },
        ]
        if let closedAt = state.closedAt { out["closedAt"] = show(closedAt) }
        if let outcome = state.outcome { out["outcome"] = outcome }
        if let evaluation = state.evaluation { out["rating"] = evaluation.rating }
        return out
    }
}

// MARK: verify

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the store: hash chain, positions, versions, stream index, views, and every case's state.",
        discussion: """
            Checks, in order: the SHA-256 hash chain, gap-free positions and stream versions, and the stream index \
            (the log's own verification); each view against a recomputation from the log; then re-derives every \
            case's state by folding its events through the definition version in force when it was registered. \
            Exit 0 when all holds; otherwise 1, naming the first failing position and what failed.

            Examples:
              caseledger verify --store /tmp/jingyan
              caseledger verify --store /tmp/jingyan --json
            """)

    @OptionGroup var options: StoreOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Skip the views' consistency check (faster on a large store).")
    var skipViews = false

    @Flag(
        help: """
            Open the store without writing anything (an auditor's copy, read-only media): checks the log, the \
            views as they stand (recomputed in memory and compared, without scratch tables) and every case.
            """)
    var readOnly = false

    @Option(
        help: """
            Where the views' check copies the log's case events by bucket of cases. It must have 200 bytes per event \
            of the log free (plus a tenth of the disk, 1 to 16 GiB, on the store's own disk), or the check fails. \
            Default: a hidden directory in the store's directory, or the system's temporary directory with \
            --read-only.
            """)
    var spillDirectory: String?

    /// Set in the child process that does the checking (see ``checkInChild()``).
    static let childVariable = "CASELEDGER_VERIFY_CHILD"

    func run() async throws {
        try await running("verify") {
            if ProcessInfo.processInfo.environment[Self.childVariable] == nil {
                try checkInChild()
                return
            }
            do {
                if readOnly {
                    try verifyReadOnly()
                    return
                }
                try verifyWritable()
            } catch let error as ToolError where error.storeDamaged {
                // A store too damaged to open fails the first check, reading the log, as any damage found does.
                try report([:], log: nil, failure: (nil, "reading the log failed: \(error.message)"))
            }
        }
    }

    private func verifyWritable() throws {
        let store: OpenStore
        do {
            store = try OpenStore(options, spillDirectory: spillDirectory)
        } catch let error as ToolError where error.viewsDamaged {
            // The log is still checked, and the views that cannot be opened are the failure when it holds.
            let log = try openLogOnly(options.store, mode: .readWrite)
            defer { log.close() }
            var (report, failure) = Self.checkLog(log)
            var result: [String: Any] = [:]
            result["events"] = report?.eventsChecked ?? 0
            result["streams"] = report?.streamsChecked ?? 0
            // With --skip-views the views' damage is not the check's business: the cases are still re-derived.
            if failure == nil, skipViews {
                let (cases, caseFailure) = try Self.rederive(log, options: options)
                result["cases"] = cases
                failure = caseFailure
            } else if failure == nil {
                failure = (nil, error.message)
            }
            try self.report(result, log: report, failure: failure)
            return
        }
        defer { store.close() }
        var result: [String: Any] = [:]
        var (log, failure) = Self.checkLog(store.log)
        result["events"] = log?.eventsChecked ?? 0
        result["streams"] = log?.streamsChecked ?? 0
        if failure == nil, !skipViews {
            do {
                try store.catchUp()
            } catch let error as ToolError where error.status == Status.checkFailed {
                failure = (nil, error.message)
            }
        }
        if failure == nil, !skipViews {
            let (views, viewFailure) = try Self.checkViews(store.runtime)
            result["views"] = views
            failure = viewFailure
        }
        if failure == nil {
            let (cases, caseFailure) = try Self.rederive(store.log, options: options)
            result["cases"] = cases
            if let caseFailure { failure = caseFailure }
        }
        try report(result, log: log, failure: failure)
    }

    /// Runs the checks in a child process (this executable again): LMDB trusts its page structure, so a damaged page
    /// can crash the process that reads it. A crash is then reported as the failure it is, never as a crash of
    /// `verify`. The child's output and exit status pass through unchanged.
    private func checkInChild() throws {
        guard
            let what = try runAgainInChild(
                setting: Self.childVariable, command: "verify", process: "verifying", work: "the check")
        else { return }
        if json {
            print(jsonLine(["ok": false, "failure": ["position": NSNull(), "what": what]]))
        }
        printError("caseledger verify: FAILED: \(what)")
        throw Status.checkFailed
    }

    /// The log's own checks; an error while reading it (a damaged page, an undecodable record) is a failure of the
    /// store, named by position when the log knows it.
    private static func checkLog(_ log: LMDBEventLog) -> (VerificationReport?, (position: UInt64?, what: String)?) {
        do {
            let report = try log.verify()
            return (report, report.failure.map { ($0.position, "\($0.kind): \($0.message)") })
        } catch {
            return (nil, (error.position, "reading the log failed (\(error.code)): \(error.message)"))
        }
    }

    /// The log's checks and the cases' re-derivation on a store opened without its lock file, writing nothing.
    private func verifyReadOnly() throws {
        let store = try openLogOnly(options.store, mode: .readOnlySnapshot)
        defer { store.close() }
        var result: [String: Any] = [:]
        var (log, failure) = Self.checkLog(store)
        result["events"] = log?.eventsChecked ?? 0
        result["streams"] = log?.streamsChecked ?? 0
        if failure == nil, !skipViews {
            // Checked as they stand (nothing can bring them up to date here), without scratch tables.
            let runtime: ProjectionRuntime
            do {
                let key = try OpenStore.partyKey(in: options.store, create: false)
                runtime = try ProjectionRuntime(
                    log: store, projections: try OpenStore.views(partyKey: key), logger: options.logger,
                    spillDirectory: spillDirectory)
            } catch {
                throw ToolError(
                    "the views of this read-only copy cannot be opened: \(error); verify with --skip-views, or "
                        + "check a writable copy")
            }
            defer { runtime.shutdown() }
            do {
                // A view that stopped is the failure, as in a writable store's verification.
                try OpenStore.requireHealthyViews(runtime, path: options.store)
                let (views, viewFailure) = try Self.checkViews(runtime)
                result["views"] = views
                failure = viewFailure
            } catch let error as ToolError where error.status == Status.checkFailed {
                failure = (nil, error.message)
            }
        }
        if failure == nil {
            let (cases, caseFailure) = try Self.rederive(store, options: options)
            result["cases"] = cases
            if let caseFailure { failure = caseFailure }
        }
        try report(result, log: log, failure: failure)
    }

    /// Checks every view against the log in one pass (`ProjectionRuntime.checkAll()`): each view's line for the
    /// report, and the first difference as the failure.
    static func checkViews(_ runtime: ProjectionRuntime) throws -> (
        views: [[String: Any]], failure: (position: UInt64?, what: String)?
    ) {
        let reports: [ProjectionRuntime.ConsistencyReport]
        do {
            reports = try runtime.checkAll()
        } catch  where error.code == .versionMismatch {
            throw ToolError(
                "checking the views could not run: \(error); verify with the caseledger release that wrote these "
                    + "views, or with --skip-views")
        } catch {
            throw ToolError("checking the views could not run: \(error)")
        }
        var views: [[String: Any]] = []
        var failure: (position: UInt64?, what: String)?
        for report in reports {
            let name = report.projection
            views.append(["view": name, "rows": report.rowsCompared, "consistent": report.isConsistent])
            if let difference = report.firstDifference, failure == nil {
                failure = (nil, "view '\(name)' differs from the log at position \(report.position): \(difference)")
            }
        }
        return (views, failure)
    }

    private func report(
        _ result: [String: Any], log: VerificationReport?, failure: (position: UInt64?, what: String)?
    ) throws {
        var result = result
        result["ok"] = failure == nil
        if skipViews { result["viewsSkipped"] = true }
        if let failure {
            result["failure"] = ["position": failure.position.map { $0 as Any } ?? NSNull(), "what": failure.what]
        }
        if json {
            print(jsonLine(result))
        } else {
            let logOK = log.map { $0.failure == nil } ?? false
            print(
                "hash chain, positions, versions and stream index: \(logOK ? "ok" : "FAILED") "
                    + "(\(log?.eventsChecked ?? 0) events, \(log?.streamsChecked ?? 0) streams)")
            if let views = result["views"] as? [[String: Any]] {
                for view in views {
                    print(
                        "view \(view["view"] ?? ""): \(view["consistent"] as? Bool == true ? "ok" : "DIFFERS") (\(view["rows"] ?? 0) rows)"
                    )
                }
            }
            if skipViews { print("views: not checked (--skip-views)") }
            if let cases = result["cases"] { print("cases re-derived through their definitions: \(cases)") }
        }
        if let failure {
            printError(
                "caseledger verify: FAILED"
                    + (failure.position.map { " at position \($0)" } ?? "") + ": \(failure.what)")
            throw Status.checkFailed
        }
        if !json { print(skipViews ? "verified: all holds (views not checked)" : "verified: all holds") }
    }

    /// Folds every case through its definition version; the first case event that cannot follow the ones before it
    /// (or a registration under a version not in force then) is the failure.
    static func rederive(_ log: LMDBEventLog, options: StoreOptions) throws -> (Int, (UInt64?, String)?) {
        let engine = try engine(
            log: log, options: options, directory: Directory(), calendar: try readingCalendar(), clock: SystemClock())
        let definitions = try options.definitions()
        var cases: [(CaseID, UInt64)] = []
        var seen = Set<String>()
        var position: UInt64 = 1
        while true {
            let batch = try log.read(from: position, direction: .forwards, limit: 4_096)
            for event in batch where event.streamVersion == 1 {
                let stream = event.streamID
                if stream.hasPrefix("case-"), seen.insert(stream).inserted {
                    cases.append((CaseID(String(stream.dropFirst(5))), event.position))
                }
            }
            guard let last = batch.last, batch.count == 4_096 else { break }
            position = last.position + 1
        }
        for (id, first) in cases {
            let records: [WorkflowRecord]
            do {
                records = try engine.history(of: id)
            } catch {
                return (cases.count, (first, "case \(id) does not decode: \(error)"))
            }
            if case .registered(let registration, let version, _)? = records.first?.event {
                let date = LegalTime.date(of: records[0].at)
                guard let inForce = definitions.inForce(kind: registration.kind, on: date) else {
                    return (
                        cases.count, (first, "case \(id): no \(registration.kind) definition was in force on \(date)")
                    )
                }
                if inForce.version != version {
                    return (
                        cases.count,
                        (first, "case \(id) was registered under \(version), but \(inForce.version) was in force then")
                    )
                }
            }
            do {
                _ = try CaseState.fold(id: id, records: records, definitions: definitions)
            } catch {
                // Find the first record that does not follow, and its position.
                let stored = try streamEvents(log, id)
                var failing = records.count - 1
                for count in 1...records.count {
                    if (try? CaseState.fold(id: id, records: records[..<count], definitions: definitions)) == nil {
                        failing = count - 1
                        break
                    }
                }
                let at = failing < stored.count ? stored[failing].position : first
                return (cases.count, (at, "case \(id), event \(failing + 1) does not follow: \(error)"))
            }
        }
        return (cases.count, nil)
    }
}

// MARK: export

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export events as JSON Lines or CSV, filtered by case, unit, kind and time.",
        discussion: """
            One event per line: position, recorded time, stream, case, stream version, type, actor, unit (the \
            case's owning unit after the command that wrote the event), case kind (with --kind, on every event; \
            otherwise on registrations) and the event's JSON. Filters combine; --from is inclusive and --to \
            exclusive (recorded times).

            Examples:
              caseledger export --store /tmp/jingyan --case 2025-c01-000042
              caseledger export --store /tmp/jingyan --format csv --kind legalAid --from 2025-03-01 --to 2025-04-01
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl, csv }

    @OptionGroup var options: StoreOptions

    @Option(help: "jsonl or csv.")
    var format: Format = .jsonl

    @Option(name: .customLong("case"), help: "Only this case's events.")
    var caseID: String?

    @Option(help: "Only events written while the case was owned by this unit.")
    var unit: String?

    @Option(help: "Only events of cases of this kind (e.g. peopleMediation, legalAid).")
    var kind: String?

    @Option(help: "Recorded at or after this time.")
    var from: String?

    @Option(help: "Recorded before this time.")
    var to: String?

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if let from, parseTime(from) == nil { throw ValidationError("--from '\(from)' is not a date or time") }
        if let to, parseTime(to) == nil { throw ValidationError("--to '\(to)' is not a date or time") }
        if let from, let to, let lower = parseTime(from), let upper = parseTime(to), lower >= upper {
            throw ValidationError("--from must be before --to")
        }
        if let kind, CaseKind(rawValue: kind) == nil {
            throw ValidationError(
                "--kind must be one of \(CaseKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await running("export") {
            let store = try OpenStore(options)
            defer { store.close() }
            if let caseID, try store.log.version(ofStream: CaseEngine.streamID(of: CaseID(caseID))) == 0 {
                throw ToolError("no case '\(caseID)' in the store")
            }
            if let unit, let directory = try? store.directory(), directory.unit(UnitID(unit)) == nil {
                throw ToolError("no unit '\(unit)' in the store's directory")
            }
            if let output {
                // Never write into the store's own directory (an export over data.mdb would destroy the store).
                let target = URL(fileURLWithPath: output).deletingLastPathComponent().resolvingSymlinksInPath().path
                let home = URL(fileURLWithPath: options.store).resolvingSymlinksInPath().path
                guard target != home, !target.hasPrefix(home + "/") else {
                    throw ToolError("--output \(output) is inside the store's directory; write the export elsewhere")
                }
                guard !FileManager.default.fileExists(atPath: output) else {
                    throw ToolError("\(output) already exists; remove it or choose another file")
                }
            }
            // A file is written as FILE.partial and takes its name only when the export is complete, so a failed
            // export never leaves a file that looks whole.
            let partial = output.map { $0 + ".partial" }
            let sink: FileHandle
            if let partial {
                let descriptor = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else {
                    throw ToolError(
                        errno == EEXIST
                            ? "\(partial) exists (an export that stopped?); remove it or choose another file"
                            : "cannot write \(partial): \(String(cString: strerror(errno)))")
                }
                sink = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            } else {
                sink = FileHandle.standardOutput
            }
            var complete = false
            defer {
                if output != nil { try? sink.close() }
                if let partial, !complete { unlink(partial) }
            }
            var buffer = Data()
            func emit(_ line: String) throws {
                buffer.append(contentsOf: Array((line + "\n").utf8))
                if buffer.count >= 1 << 16 {
                    try sink.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            let columns = [
                "position", "recordedAt", "stream", "case", "version", "type", "actor", "unit", "kind", "id",
                "chainHash",
                "event",
            ]
            if format == .csv { try emit(columns.joined(separator: ",")) }
            let lower = from.flatMap(parseTime).map(Timestamp.init)
            let upper = to.flatMap(parseTime).map(Timestamp.init)
            var kinds: [String: String] = [:]
            var position: UInt64 = 1
            if let lower, let first = try store.log.firstPosition(recordedAtOrAfter: lower) { position = first }
            let only = caseID.map { CaseEngine.streamID(of: CaseID($0)) }
            let events: (UInt64) throws -> [RecordedEvent] = { start in
                if let only {
                    return try store.log.read(stream: only, from: start, direction: .forwards, limit: 1_024)
                }
                return try store.log.read(from: start, direction: .forwards, limit: 1_024)
            }
            var next: UInt64 = only == nil ? position : 1
            scan: while true {
                let batch = try events(next)
                for event in batch {
                    let stream = event.streamID
                    if kind != nil, stream.hasPrefix("case-"), kinds[stream] == nil {
                        // The case's kind is in its registration, the stream's first event (maybe before --from).
                        let first =
                            event.streamVersion == 1
                            ? event
                            : try store.log.read(stream: stream, from: 1, direction: .forwards, limit: 1).first
                        kinds[stream] = first.flatMap(Self.kind(of:)) ?? ""
                    }
                    if let lower, event.recordedAt < lower { continue }
                    if let upper, event.recordedAt >= upper { break scan }
                    if let unit, event.actor.unit != unit { continue }
                    if let kind, kinds[stream] != kind { continue }
                    let caseName = stream.hasPrefix("case-") ? String(stream.dropFirst(5)) : ""
                    let values: [String] = [
                        String(event.position), Self.precise(event.recordedAt), stream, caseName,
                        String(event.streamVersion), event.type, event.actor.userID, event.actor.unit,
                        kinds[stream] ?? Self.kindIfRegistration(event), event.id.uuidString.lowercased(),
                        event.chainHash.hex,
                        String(decoding: event.payload, as: UTF8.self),
                    ]
                    if format == .csv {
                        try emit(values.map(Self.csvField).joined(separator: ","))
                    } else {
                        var object: [String: Any] = Dictionary(
                            uniqueKeysWithValues: zip(columns, values.map { $0 as Any }))
                        object["position"] = event.position
                        object["version"] = event.streamVersion
                        object["event"] =
                            (try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]))
                            ?? String(decoding: event.payload, as: UTF8.self)
                        try emit(jsonLine(object))
                    }
                }
                guard batch.count == 1_024, let last = batch.last else { break }
                next = (only == nil ? last.position : last.streamVersion) + 1
            }
            if !buffer.isEmpty { try sink.write(contentsOf: buffer) }
            if let output, let partial {
                try sink.synchronize()
                try Self.name(partial, output)
                complete = true
            }
        }
    }

    /// Gives the finished file `partial` the name `output` without replacing a file that appeared meanwhile: a hard
    /// link where the file system has them; else (FAT file systems of USB sticks have none) a rename after checking
    /// that the name is still free, which leaves only the moment between the two open. Then the directory is flushed.
    static func name(_ partial: String, _ output: String) throws {
        func failed() -> ToolError {
            ToolError("cannot name the export \(output): \(String(cString: strerror(errno)))")
        }
        if link(partial, output) == 0 {
            unlink(partial)
        } else {
            guard errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP else { throw failed() }
            var existing = stat()
            guard lstat(output, &existing) != 0, errno == ENOENT else {
                throw ToolError("\(output) appeared while the export was written; it was left alone")
            }
            guard rename(partial, output) == 0 else { throw failed() }
        }
        let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        _ = flushToDisk(directory)
    }

    /// A recorded time to the microsecond, as the log keeps it (`2025-01-05T10:28:00.123456+08:00`).
    static func precise(_ time: Timestamp) -> String {
        let seconds = show(time)
        let micros = ((time.microsecondsSinceEpoch % 1_000_000) + 1_000_000) % 1_000_000
        guard micros != 0, seconds.hasSuffix("+08:00") else { return seconds }
        return String(seconds.dropLast(6)) + "." + String(micros).leftPadded(to: 6) + "+08:00"
    }

    /// The kind when the event is a registration (the kind column without a --kind filter).
    static func kindIfRegistration(_ event: RecordedEvent) -> String {
        event.streamVersion == 1 ? kind(of: event) ?? "" : ""
    }

    /// The case kind of a registration event.
    static func kind(of event: RecordedEvent) -> String? {
        guard event.type == "registered",
            let record = try? JSONDecoder().decode(WorkflowRecord.self, from: Data(event.payload)),
            case .registered(let registration, _, _) = record.event
        else { return nil }
        return registration.kind.rawValue
    }

    /// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
    static func csvField(_ value: String) -> String {
        // By scalar: "\r\n" is one `Character`, equal to neither "\r" nor "\n".
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
