import ArgumentParser
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation

/// The division a report covers: a unit id of the store's directory (its division), a 12-digit division code that
/// holds at least one unit, or, when `code` is nil, the smallest division holding every unit of the directory.
func division(_ code: String?, in store: OpenStore) throws -> DivisionCode {
    let directory: Directory
    do {
        directory = try store.directory()
    } catch {
        // Without a directory any well-formed code goes: nothing can be checked against it.
        if let code, let division = DivisionCode(code) { return division }
        throw ToolError("give --unit as a 12-digit division code: \(error)")
    }
    let divisions = directory.units.values.map(\.division)
    if let code {
        if let unit = directory.unit(UnitID(code)) { return unit.division }
        guard let division = DivisionCode(code) else {
            throw ToolError("'\(code)' is neither a division code nor a unit of the store's directory")
        }
        guard divisions.contains(where: { division.contains($0) }) else {
            throw ToolError("no unit of the store's directory lies in division \(code)")
        }
        return division
    }
    // The common ancestor: the lowest level at which every unit's division has the same ancestor.
    let levels: [Level] = [.village, .township, .county, .city]
    for level in levels {
        let ancestors = Set(divisions.map { $0.ancestor(at: level) })
        if ancestors.count == 1, let only = ancestors.first, let common = only { return common }
    }
    guard !divisions.isEmpty else { throw ToolError("the store's directory has no units; give --unit") }
    throw ToolError("the store's units lie in more than one city; give --unit")
}

// MARK: stats

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The monthly report of a jurisdiction (Docs/Tool.md).",
        discussion: """
            Registered, closed, mediation success rate, on-time completion rate, satisfaction rate (ratings of 4 or \
            5), escalations, high-risk reports, referrals by route, legal aid approved and denied, administrative \
            review outcomes and evaluations received, for the month, under a division (a 12-digit code, or a unit \
            id whose division is used; the directory's top division by default).

            Examples:
              caseledger stats --store /tmp/jingyan --month 2025-06
              caseledger stats --store /tmp/jingyan --month 2025-06 --unit 511121101000 --format csv
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    @OptionGroup var options: StoreOptions

    @Option(help: "The month, YYYY-MM.")
    var month: String

    @Option(help: "A division code or unit id (default: the directory's highest division).")
    var unit: String?

    @Option(help: "table, json or csv.")
    var format: Format = .table

    func validate() throws {
        let parts = month.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 4, parts[1].utf8.count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let m = Int(parts[1]), (1...12).contains(m)
        else { throw ValidationError("--month must look like 2025-06") }
    }

    func run() async throws {
        try await running("stats") {
            let store = try OpenStore(options)
            defer { store.close() }
            try store.catchUp()
            let under = try division(unit, in: store)
            let s: MonthlyStatistics
            do {
                s = try MonthlyStatisticsProjection.statistics(month: month, under: under, in: store.runtime)
            } catch {
                throw ToolError("reading the monthly statistics failed: \(error)")
            }
            let rows = Self.rows(s)
            switch format {
            case .json:
                var object: [String: Any] = ["month": month, "division": under.digits]
                for (key, _, value) in rows { object[key] = value }
                print(jsonLine(object))
            case .csv:
                print("figure,value")
                for (key, _, value) in rows { print("\(key),\(Self.text(value, csv: true))") }
            case .table:
                print("Monthly statistics \(month), division \(under.digits) (\(under.level))")
                print(table(["FIGURE", "VALUE"], rows.map { [$0.1, Self.text($0.2, csv: false)] }))
            }
        }
    }

    /// (machine key, label, value): counts are Int, rates Double in 0…1 or NSNull when undefined.
    static func rows(_ s: MonthlyStatistics) -> [(String, String, Any)] {
        func rate(_ value: Double?) -> Any { value.map { ($0 * 10_000).rounded() / 10_000 } ?? NSNull() }
        var rows: [(String, String, Any)] = [
            ("registered", "Registered", s.registered),
            ("closed", "Closed", s.closed),
            ("mediationSuccessRate", "Mediation success rate", rate(s.mediationSuccessRate)),
            ("onTimeRate", "On-time completion rate", rate(s.onTimeRate)),
            ("satisfactionRate", "Satisfaction rate", rate(s.satisfactionRate)),
            ("evaluations", "Evaluations received", s.evaluations),
            ("escalations", "Escalations", s.escalations),
            ("highRiskReports", "High-risk reports", s.highRiskReports),
            ("legalAidApproved", "Legal aid approved", s.legalAidApproved),
            ("legalAidDenied", "Legal aid denied", s.legalAidDenied),
        ]
        for route in Route.allCases {
            rows.append(("referrals.\(route.rawValue)", "Referrals to \(route.rawValue)", s.referrals[route] ?? 0))
        }
        for outcome in ReviewOutcome.allCases {
            rows.append(
                (
                    "reviewOutcomes.\(outcome.rawValue)", "Review decisions: \(outcome.rawValue)",
                    s.reviewOutcomes[outcome] ?? 0
                ))
        }
        for ending in ReviewEnding.allCases {
            rows.append(
                ("reviewEndings.\(ending.rawValue)", "Reviews ended: \(ending.rawValue)", s.reviewEndings[ending] ?? 0))
        }
        return rows
    }

    static func text(_ value: Any, csv: Bool) -> String {
        switch value {
        case let double as Double: return csv ? String(double) : String(format: "%.1f %%", double * 100)
        case is NSNull: return csv ? "" : "-"
        default: return "\(value)"
        }
    }
}

// MARK: overdue

struct Overdue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cases whose statutory clocks are overdue at a time (限时办结), earliest first.",
        discussion: """
            The list comes from the live deadlines view: the clocks running now, or breached and still owed, of \
            open cases, that fall due before --at (paused clocks and the parties' own windows are left out). A later --at shows what will be overdue by then; an earlier one \
            does not recreate the past (use `replay --at` for a case's clocks as they were).

            Examples:
              caseledger overdue --store /tmp/jingyan --at 2025-12-31T23:59
              caseledger overdue --store /tmp/jingyan --unit c01-t03-v2 --json
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Clocks due before this time (default: now).")
    var at: String?

    @Option(help: "Only cases this unit owns (exactly this unit, not the units under it).")
    var unit: String?

    @Option(help: "At most this many clocks (rows).")
    var limit = 50

    @Flag(help: "Print JSON Lines.")
    var json = false

    func validate() throws {
        if let at, parseTime(at) == nil { throw ValidationError("--at '\(at)' is not a date or time") }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1 to 100,000") }
    }

    func run() async throws {
        try await running("overdue") {
            let store = try OpenStore(options)
            defer { store.close() }
            try store.catchUp()
            let time = at.flatMap(parseTime) ?? Instant(SystemClock().now())
            if let unit, let directory = try? store.directory(), directory.unit(UnitID(unit)) == nil {
                throw ToolError("no unit '\(unit)' in the store's directory")
            }
            var entries: [DeadlineEntry] = []
            var cursor: String?
            var more = false
            repeat {
                let page: Page<DeadlineEntry>
                do {
                    page = try DeadlinesProjection.overdue(
                        at: time, unit: unit.map { UnitID($0) }, after: cursor,
                        limit: min(500, limit + 1 - entries.count),
                        in: store.runtime)
                } catch {
                    throw ToolError("reading the deadlines view failed: \(error)")
                }
                entries += page.items
                cursor = page.next
            } while cursor != nil && entries.count <= limit
            if entries.count > limit {
                more = true
                entries.removeLast(entries.count - limit)
            }
            if json {
                for e in entries {
                    print(
                        jsonLine([
                            "case": e.caseID.rawValue, "deadline": e.deadline, "due": show(e.due),
                            "unit": e.unit.rawValue,
                        ]))
                }
                return
            }
            print(
                "Overdue at \(show(time))\(unit.map { " in \($0)" } ?? ""): \(entries.count)\(more ? "+" : "") clocks")
            print(
                table(
                    ["CASE", "CLOCK", "DUE", "UNIT"],
                    entries.map { [$0.caseID.rawValue, $0.deadline, show($0.due), $0.unit.rawValue] }))
            if more { print("… more; raise --limit to see them") }
        }
    }
}

// MARK: backup

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent, compacted hot copy of the store, verified after writing.",
        discussion: """
            Copies the LMDB store (while writers go on) into an empty directory, flushes it to disk and verifies \
            the copy's hash chain; then copies directory.yaml and party.key. A copy that fails verification is \
            kept as data.mdb.unverified and the command fails.

            Example:
              caseledger backup --store /tmp/jingyan --to /backups/jingyan-2025-12-31
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "The backup directory (must be empty or absent).")
    var to: String

    /// Set in the child process that copies (see ``runAgainInChild(setting:command:process:work:)``).
    static let childVariable = "CASELEDGER_BACKUP_CHILD"

    func run() async throws {
        try await running("backup") {
            // The copy reads every page of the store: in a child process, so that a damaged page that stops LMDB is
            // reported as damage (status 1) and the partial copy is kept under a name no restore takes.
            if ProcessInfo.processInfo.environment[Self.childVariable] == nil {
                // Checked here too, before the child runs: a copy it leaves is then surely its own, never an older
                // backup this command must not rename.
                let existing = (try? FileManager.default.contentsOfDirectory(atPath: to)) ?? []
                guard existing.isEmpty else {
                    throw ToolError("\(to) is not empty; give a new or empty directory")
                }
                guard
                    let what = try runAgainInChild(
                        setting: Self.childVariable, command: "backup", process: "copying", work: "the backup")
                else { return }
                let data = to + "/data.mdb"
                let kept = rename(data, data + ".unverified") == 0
                throw ToolError(
                    what + (kept ? "; the partial copy was kept as \(data).unverified" : ""), status: Status.checkFailed
                )
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: to, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ToolError("\(to) is a file; give a new or empty directory")
            }
            // Only the log is opened: a backup must work even when the views cannot (a lost party.key, say).
            let log = try openLogOnly(options.store, mode: .readOnly)
            defer { log.close() }
            let report: VerificationReport
            do {
                report = try log.backup(to: to)
            } catch let error as EventLogError {
                let status = error.code == .corrupted ? Status.checkFailed : Status.cannotRun
                throw ToolError("the backup failed: \(error)", status: status)
            }
            // The copy's head must be the original's record at that position, hash for hash.
            let original = try log.read(from: report.head.position, direction: .forwards, limit: 1).first
            guard report.head.position == 0 || original?.chainHash == report.head.chainHash else {
                // Kept under a name no restore takes for a store, as a copy that does not verify is.
                let data = to + "/data.mdb"
                let kept = rename(data, data + ".unverified") == 0 && flushToDisk(to)
                throw ToolError(
                    "the backup's head at position \(report.head.position) does not match the store's record there"
                        + (kept ? "; the copy was kept as data.mdb.unverified" : "; remove \(data): it is no backup"),
                    status: Status.checkFailed)
            }
            for (file, permissions) in [(StoreFiles.directory, mode_t(0o644)), (StoreFiles.partyKey, mode_t(0o600))] {
                let source = options.store + "/" + file
                guard FileManager.default.fileExists(atPath: source) else { continue }
                let target = to + "/" + file
                // The file's bytes, following a symbolic link: a link copied as a link would leave the backup
                // without the key (or the directory) once restored elsewhere.
                guard let data = FileManager.default.contents(atPath: source) else {
                    throw ToolError("cannot read \(source); the backup \(to) is incomplete")
                }
                do {
                    try writeDurably(data, to: target, permissions: permissions)
                } catch {
                    throw ToolError("copying \(file) into the backup \(to) failed (\(error)); the backup is incomplete")
                }
            }
            // The directory's own entry too: a new backup directory is otherwise lost with its parent's unflushed
            // entry on a power failure.
            let parent = (URL(fileURLWithPath: to).standardizedFileURL.deletingLastPathComponent().path)
            guard flushToDisk(to), flushToDisk(parent) else {
                throw ToolError("could not flush the backup directory \(to) (and its parent) to disk")
            }
            print(
                "backed up \(report.eventsChecked) events (\(report.streamsChecked) streams) to \(to); verified, "
                    + "head \(report.head.position) matches the store")
        }
    }

}

// MARK: views

struct Views: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The views' checkpoints and lag, and rebuilds.",
        discussion: """
            Examples:
              caseledger views status --store /tmp/jingyan
              caseledger views rebuild --store /tmp/jingyan monthly
            """,
        subcommands: [ViewsStatus.self, ViewsRebuild.self])
}

struct ViewsStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each view's version, generation, checkpoint, lag behind the log and failure, if any.",
        discussion: """
            Example:
              caseledger views status --store /tmp/jingyan
            """)

    @OptionGroup var options: StoreOptions

    @Flag(help: "Print JSON Lines.")
    var json = false

    func run() async throws {
        try await running("views status") {
            let store = try OpenStore(options)
            defer { store.close() }
            let status: [ProjectionRuntime.Status]
            do {
                status = try store.runtime.status()
            } catch {
                throw ToolError("reading the views' status failed: \(error)")
            }
            if json {
                for s in status {
                    var object: [String: Any] = [
                        "view": s.name, "version": s.version, "generation": s.generation, "checkpoint": s.checkpoint,
                        "lag": s.lag,
                    ]
                    if let at = s.failedAt { object["failedAt"] = at }
                    if let failure = s.failure { object["failure"] = failure }
                    print(jsonLine(object))
                }
                if status.contains(where: { $0.failure != nil }) { throw Status.checkFailed }
                return
            }
            var rows: [[String]] = []
            for s in status {
                var failure = ""
                if let text = s.failure { failure = "at \(s.failedAt ?? 0): \(text)" }
                rows.append([
                    s.name, String(s.version), String(s.generation), String(s.checkpoint), String(s.lag), failure,
                ])
            }
            print(table(["VIEW", "VERSION", "GENERATION", "CHECKPOINT", "LAG", "FAILURE"], rows))
            if status.contains(where: { $0.failure != nil }) { throw Status.checkFailed }
        }
    }
}

struct ViewsRebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild one view (or all) from position 1 beside the old one, then swap it in.",
        discussion: """
            Views: caseSummary, deadlines, board, monthly, workload, repeatDisputes.

            Examples:
              caseledger views rebuild --store /tmp/jingyan
              caseledger views rebuild --store /tmp/jingyan monthly
              caseledger views rebuild --store /tmp/jingyan --chunk-size 4096
            """)

    @OptionGroup var options: StoreOptions

    static let names = ["caseSummary", "deadlines", "board", "monthly", "workload", "repeatDisputes"]

    @Argument(help: "The view to rebuild (all when absent): \(names.joined(separator: ", ")).")
    var name: String?

    @Option(
        help: """
            Events per chunk (1 to 1,000,000) when views are rebuilt event by event: when the bulk rebuild meets \
            an event it does not read (--verbose says why), and for events appended while it ran. Larger chunks \
            rebuild faster; memory grows with the chunk, not with the log.
            """)
    var chunkSize = 131_072

    @Option(
        help: """
            Where the bulk rebuild copies the log's case events, by bucket of cases, so that it reads the log once. It \
            must have 200 bytes per event of the log free (plus a tenth of the disk, 1 to 16 GiB, on the store's own \
            disk), or the rebuild fails. Default: a hidden directory in the store's directory.
            """)
    var spillDirectory: String?

    func validate() throws {
        guard (1...1_000_000).contains(chunkSize) else { throw ValidationError("--chunk-size must be 1 to 1,000,000") }
        if let name, !Self.names.contains(name) {
            throw ValidationError("no view '\(name)'; the views are \(Self.names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await running("views rebuild") {
            let store = try OpenStore(options, chunkSize: chunkSize, spillDirectory: spillDirectory)
            defer { store.close() }
            let names = try store.runtime.status().map(\.name)
            let started = ContinuousClock.now
            do {
                if let name {
                    try store.runtime.rebuild(name)
                } else {
                    try store.runtime.rebuildAll()
                }
            } catch let error as ProjectionError {
                throw ToolError("the rebuild failed: \(error)")
            }
            let head = try store.log.head().position
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            print(
                "rebuilt \(name ?? names.joined(separator: ", ")) to position \(head) in "
                    + String(format: "%.2f s", seconds))
        }
    }
}
