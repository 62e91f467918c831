import ArgumentParser
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import HeapModule
import Logging

@main
struct CaseLedgerTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caseledger",
        abstract: "Simulate, run, replay, verify and report on a CaseLedger store.",
        discussion: """
            Every subcommand takes --store PATH, the store's directory. Times are shown in the store's legal time \
            zone (Asia/Shanghai, +08:00) in ISO 8601. Errors go to standard error.

            Exit status: 0 success; 1 a check failed (verify found a problem, or exec refused a line); 2 the \
            command could not run (no store, an unreadable file, a failure of the store); 64 a usage error.

            Example: caseledger simulate --store /tmp/jingyan && caseledger verify --store /tmp/jingyan
            """,
        subcommands: [
            Simulate.self, Exec.self, Replay.self, Verify.self, Stats.self, Overdue.self, Board.self, Workload.self,
            Export.self, Backup.self, Views.self,
        ])
}

/// How the tool treats a clock that runs past the years the holiday calendar covers.
enum CalendarPolicy: String, ExpressibleByArgument, CaseIterable {
    /// Refuse the command (the library's default): the deadline cannot be counted exactly.
    case refuse
    /// Count with weekends only, mark the deadline provisional, and recount when the year is loaded.
    case provisional

    var beyondCoverage: HolidayCalendar.BeyondCoverage { self == .refuse ? .refuse : .provisional }
}

/// The holiday calendar of the subcommands that run commands.
struct CalendarOptions: ParsableArguments {
    @Option(help: "Clocks past the calendar's years: refuse or provisional.")
    var beyondCalendar: CalendarPolicy = .refuse

    @Option(
        name: .customLong("calendar"),
        help: """
            A holiday calendar YAML in the shipped file's shape (a year's rest_days, working_days and notice), \
            added to the shipped 2024–2026 years; a year in the file replaces the shipped one. Repeat for several.
            """)
    var files: [String] = []

    func calendar() throws -> HolidayCalendar {
        do {
            let shipped = try HolidayCalendar.chinaMainland(beyondCoverage: beyondCalendar.beyondCoverage)
            var years = shipped.years
            for file in files {
                guard let yaml = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ToolError("cannot read the calendar \(file)")
                }
                let loaded: HolidayCalendar
                do {
                    loaded = try HolidayCalendar(yaml: yaml)
                } catch {
                    throw ToolError("the calendar \(file) is not valid: \(error)")
                }
                years.merge(loaded.years) { _, new in new }
            }
            return try HolidayCalendar(years: years, beyondCoverage: beyondCalendar.beyondCoverage)
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError("the holiday calendar does not load: \(error)")
        }
    }
}

/// A workflow engine over `log` with the store's definitions (national, plus `--override` files).
func engine(
    log: LMDBEventLog, options: StoreOptions, directory: Directory, calendar: HolidayCalendar, clock: any EventClock
) throws -> CaseEngine {
    CaseEngine(
        log: log,
        configuration: .init(directory: directory, calendar: calendar, definitions: try options.definitions()),
        clock: clock, logger: options.logger)
}

/// The shipped calendar, for engines that only read (folding a case sets no clock).
func readingCalendar() throws -> HolidayCalendar {
    do {
        return try HolidayCalendar.chinaMainland()
    } catch {
        throw ToolError("the shipped calendar does not load: \(error)")
    }
}

// MARK: simulate

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realistic, seeded caseload into a new store through the workflow engine.",
        discussion: """
            Builds a county (1 coordination centre, 15 townships, 120 villages, with their mediation committees, \
            mediators, legal aid centre, review body, labour arbitration commission, court and 12348 desk) or a \
            city of several counties, and runs each case's commands at their simulated times: mediations agreed, \
            escalated, failed and referred to court or arbitration, labour disputes, legal aid, administrative \
            reviews and hotline consultations, with daily clock ticks and the citizens' evaluations. The same seed \
            gives the same store. The units and persons go to the store's directory.yaml.

            Examples:
              caseledger simulate --store /tmp/jingyan
              caseledger simulate --store /tmp/city --counties 13 --cases 100000 --seed 7
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "Cases to register.")
    var cases = 4_000

    @Option(help: "The seed of the caseload.")
    var seed: UInt64 = 1

    @Option(help: "The first day cases are registered (YYYY-MM-DD).")
    var from = "2025-01-01"

    @Option(help: "The last simulated day (YYYY-MM-DD); later steps are left undone, as open cases.")
    var to = "2025-12-31"

    @Option(help: "Counties in the city (1 for a county).")
    var counties = 1

    @OptionGroup var calendar: CalendarOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard (1...10_000_000).contains(cases) else { throw ValidationError("--cases must be 1 to 10,000,000") }
        guard (1...50).contains(counties) else { throw ValidationError("--counties must be 1 to 50") }
        guard let first = CivilDate(from), let last = CivilDate(to) else {
            throw ValidationError("--from and --to are dates like 2025-01-01")
        }
        guard first <= last else { throw ValidationError("--from must not be after --to") }
    }

    func run() async throws {
        try await running("simulate") {
            guard let first = CivilDate(from), let last = CivilDate(to) else { throw ToolError("bad dates") }
            let holidays = try calendar.calendar()
            let simulation = try Simulation(
                plan: .init(cases: cases, seed: seed, from: first, to: last, counties: counties), calendar: holidays)
            let clock = SimulatedClock(LegalTime.startOf(first))
            let store = try OpenStore(options, create: true, durability: .relaxedForBulkImport, clock: clock)
            defer { store.close() }
            let head = try store.log.head().position
            guard head == 0 else {
                throw ToolError(
                    "the store at \(options.store) already holds \(head) events; simulate into a new directory")
            }
            try store.save(simulation.hierarchy.directory)
            let engine = try engine(
                log: store.log, options: options, directory: simulation.hierarchy.directory, calendar: holidays,
                clock: clock)
            let started = ContinuousClock.now
            let progress = Progress(total: cases)
            let report = try await simulation.run(engine: engine, clock: clock, progress: progress)
            progress.finish()
            do {
                // The commands first (a stopped view must not leave them unflushed), then the views' catch-up.
                try store.log.sync()
                try store.catchUp()
                try store.log.sync()
            } catch let error as EventLogError {
                throw ToolError("flushing the store failed: \(error)")
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let events = try store.log.head().position
            try printSummary(report, events: events, seconds: seconds)
            if report.refusedTotal > 0 {
                printError(
                    "caseledger simulate: \(report.refusedTotal) commands were refused by the rules (a refused "
                        + "command also makes its case's later commands fail); by code: "
                        + report.refused.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(
                            separator: ", ") + "\n  first of each: " + report.firstRefusals.joined(separator: "\n  "))
                throw Status.checkFailed
            }
        }
    }

    private func printSummary(_ report: Simulation.Report, events: UInt64, seconds: Double) throws {
        let rate = seconds > 0 ? Int(Double(events) / seconds) : 0
        if json {
            print(
                jsonLine([
                    "cases": report.casesRegistered, "commands": report.commands, "events": events,
                    "tickEvents": report.tickEvents, "refused": report.refused,
                    "seconds": (seconds * 10).rounded() / 10,
                    "eventsPerSecond": rate, "escalatedCases": report.escalated.prefix(20).map(\.rawValue),
                ]))
            return
        }
        print(
            """
            Simulated \(report.casesRegistered) case\(report.casesRegistered == 1 ? "" : "s") from \(from) to \(to) (seed \(seed), \(counties) \
            count\(counties == 1 ? "y" : "ies")) into \(options.store)
              commands run: \(report.commands), refused: \(report.refusedTotal)
              events: \(events) (clock ticks wrote \(report.tickEvents))
              time: \(String(format: "%.1f", seconds)) s, \(rate) events/s
              escalated cases, e.g.: \(report.escalated.prefix(3).map(\.rawValue).joined(separator: ", "))
            """)
    }
}

extension Simulation {
    /// Runs every case's steps in time order, with a clock tick at the end of each simulated day. A case's story is
    /// written on the day it is registered and its steps wait in a heap, so memory follows the open cases, not the
    /// whole caseload.
    func run(engine: CaseEngine, clock: SimulatedClock, progress: Progress) async throws -> Report {
        var report = Report()
        let first = plan.from.dayNumber
        var registering = [[Int]](repeating: [], count: plan.to.dayNumber - first + 1)
        for n in 0..<plan.cases {
            let day = registration(case: n).day.dayNumber - first
            if registering.indices.contains(day) { registering[day].append(n) } else { progress.advance() }
        }
        var pending = Heap<Step>()
        var day = plan.from
        while day <= plan.to {
            for n in registering[day.dayNumber - first] {
                for step in script(case: n) { pending.insert(step) }
            }
            registering[day.dayNumber - first] = []
            let end = LegalTime.endOf(day)
            while let next = pending.min, next.at < end {
                let step = pending.removeMin()
                try await execute(step, engine, clock, &report, progress: progress)
            }
            report.tickEvents += try await tick(engine, clock, at: end.adding(seconds: -60))
            day = day.adding(days: 1)
        }
        // Steps after the last day stay undone: those cases are still open when the simulation ends.
        return report
    }

    private func execute(
        _ step: Step, _ engine: CaseEngine, _ clock: SimulatedClock, _ report: inout Report, progress: Progress
    ) async throws {
        clock.set(step.at)
        report.commands += 1
        do {
            try await engine.execute(step.command, on: step.caseID, by: step.actor)
            if case .register = step.command {
                report.casesRegistered += 1
                progress.advance()
            }
            switch step.command {
            case .escalate, .flagRisk: if report.escalated.count < 100 { report.escalated.append(step.caseID) }
            default: break
            }
        } catch {
            if error.code == .storage { throw ToolError("the store failed: \(error)") }
            let key = error.rule.map { "\(error.code)[\($0)]" } ?? "\(error.code)"
            report.refused[key, default: 0] += 1
            if report.firstRefusals.count < 12, !report.firstRefusals.contains(where: { $0.hasPrefix(key) }) {
                report.firstRefusals.append("\(key) \(step.command.name): \(error)")
            }
        }
    }

    private func tick(_ engine: CaseEngine, _ clock: SimulatedClock, at time: Instant) async throws -> Int {
        clock.set(time)
        let report: CaseEngine.TickReport
        do {
            report = try await engine.tick(now: time)
        } catch {
            throw ToolError("the clock tick of \(show(time)) failed: \(error)")
        }
        // A case the tick skipped is a failure of the simulation, as a failed tick was before ticks skipped them.
        if let (id, why) = report.failedCases.min(by: { $0.key.rawValue < $1.key.rawValue }) {
            throw ToolError(
                "the clock tick of \(show(time)) could not decide \(report.failedCases.count) case(s), first \(id): "
                    + why)
        }
        return report.events
    }
}

/// A progress bar on standard error when it is a terminal; nothing otherwise.
final class Progress {
    // Used by the simulation loop only, in one task.
    private let total: Int
    private var done = 0
    private var shown = -1
    private let enabled = isatty(STDERR_FILENO) != 0

    init(total: Int) { self.total = max(1, total) }

    func advance() {
        done += 1
        guard enabled else { return }
        let percent = done * 100 / total
        guard percent != shown else { return }
        shown = percent
        let filled = percent * 30 / 100
        FileHandle.standardError.write(
            Data(
                "\r[\(String(repeating: "#", count: filled))\(String(repeating: "-", count: 30 - filled))] \(percent)% \(done)/\(total) cases"
                    .utf8))
    }

    func finish() {
        if enabled, shown >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

// MARK: exec

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run workflow commands read as JSON Lines; write one JSON result line per command.",
        discussion: """
            Each line is {"case": ID, "actor": PERSON, "command": {NAME: {FIELDS}}, "idempotencyKey": KEY?} \
            (Docs/Commands.md has an example of every command). Lines run in order; a refused or malformed line \
            gets an error result naming its line number and reason, writes nothing, and the other lines still run. \
            Commands take the system clock's time. Exit status 1 when any line failed.

            Examples:
              caseledger exec --store /tmp/jingyan --input commands.jsonl
              echo '{"case":"2026-000124","actor":"m-v1","command":{"approveAid":{}}}' | caseledger exec --store /tmp/s
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "The JSON Lines file to read (standard input when absent).")
    var input: String?

    @Option(help: "A directory YAML of units and persons; saved as the store's directory.yaml.")
    var directory: String?

    @OptionGroup var calendar: CalendarOptions

    struct Line: Decodable {
        var `case`: String
        var actor: String
        var command: CaseCommand
        var idempotencyKey: String?
    }

    func run() async throws {
        try await running("exec") {
            var isDirectory: ObjCBool = false
            if let input, FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory),
                isDirectory.boolValue
            {
                throw ToolError("\(input) is a directory; give a JSON Lines file")
            }
            let handle: FileHandle
            if let input {
                guard let file = FileHandle(forReadingAtPath: input) else {
                    throw ToolError("cannot read \(input)")
                }
                handle = file
            } else {
                handle = FileHandle.standardInput
            }
            // Everything given is read and checked before a store is touched, so a bad file creates nothing.
            var units: Directory?
            if let directory {
                guard let text = try? String(contentsOfFile: directory, encoding: .utf8) else {
                    throw ToolError("cannot read \(directory)")
                }
                do {
                    units = try Directory(yaml: text)
                } catch let error as DirectoryError {
                    throw ToolError("\(directory): \(error.problem)")
                }
            }
            let holidays = try calendar.calendar()
            _ = try options.definitions()
            // A new store needs the units and persons its commands name: without --directory, only an existing one.
            let store = try OpenStore(options, create: units != nil)
            defer { store.close() }
            if let units { try store.save(units) }
            let engine = try engine(
                log: store.log, options: options, directory: try store.directory(), calendar: holidays,
                clock: SystemClock())
            var failed = 0
            var number = 0
            var reader = LineReader(handle)
            while let line = try reader.next() {
                number += 1
                let result: [String: Any]
                switch line {
                case .text(let text):
                    if text.allSatisfy(\.isWhitespace) { continue }
                    result = await execute(text, line: number, engine: engine)
                case .invalidUTF8(let offset):
                    result = Self.invalid(number, "not valid UTF-8 at byte \(offset + 1) of the line")
                case .tooLong(let bytes):
                    result = Self.invalid(
                        number,
                        "the line has \(bytes) bytes, more than the \(LineReader.maximumLineBytes) a command may")
                }
                if result["ok"] as? Bool != true { failed += 1 }
                print(jsonLine(result))
                fflush(nil)
                if let error = result["error"] as? [String: Any], error["code"] as? String == "storage" {
                    // The store itself failed: later lines would meet the same failure.
                    try? store.catchUp()
                    throw ToolError("the store failed at line \(number); no later line was run")
                }
            }
            try store.catchUp()
            do {
                try store.log.sync()
            } catch {
                throw ToolError("flushing the store failed: \(error)")
            }
            if failed > 0 { throw Status.checkFailed }
        }
    }

    static func invalid(_ line: Int, _ message: String) -> [String: Any] {
        ["line": line, "ok": false, "error": ["code": "invalidLine", "message": message]]
    }

    /// One line's result object.
    func execute(_ text: String, line: Int, engine: CaseEngine) async -> [String: Any] {
        let parsed: Line
        do {
            parsed = try JSONDecoder().decode(Line.self, from: Data(text.utf8))
        } catch {
            var result: [String: Any] = [
                "line": line, "ok": false, "error": ["code": "invalidLine", "message": Self.explain(error)],
            ]
            // Name the case when the line has one, even if the rest does not decode.
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                let id = object["case"] as? String
            {
                result["case"] = id
            }
            return result
        }
        let caseID = CaseID(parsed.case)
        guard parsed.actor != PersonID.system.rawValue else {
            return [
                "line": line, "ok": false, "case": caseID.rawValue,
                "error": [
                    "code": "notAuthorized",
                    "message": "the actor 'system' is reserved for the engine's clock ticks; name the person acting",
                ],
            ]
        }
        do {
            let outcome = try await engine.execute(
                parsed.command, on: caseID, by: PersonID(parsed.actor), idempotencyKey: parsed.idempotencyKey)
            var events: [[String: Any]] = []
            for (id, records) in outcome.records {
                for record in records { events.append(["case": id.rawValue, "event": record.event.name]) }
            }
            return [
                "line": line, "ok": true, "case": caseID.rawValue, "command": parsed.command.name,
                "positions": [outcome.positions.lowerBound, outcome.positions.upperBound],
                "duplicate": outcome.wasDuplicate, "events": events,
            ]
        } catch {
            var detail: [String: Any] = ["code": "\(error.code)", "message": error.message]
            if let rule = error.rule { detail["rule"] = rule }
            return ["line": line, "ok": false, "case": caseID.rawValue, "error": detail]
        }
    }

    /// A decoding error as a sentence naming the field.
    static func explain(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the line" : keys.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            let at = path(context)
            return "missing field '\(key.stringValue)'" + (at == "the line" ? "" : " in \(at)")
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty
                ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// Lines of a file or pipe, read in blocks: each line is checked to be UTF-8 (never repaired) and at most
/// ``maximumLineBytes`` long; a longer line is skipped to its end. A line may end with `\n` or `\r\n`; the last may
/// lack one.
struct LineReader {
    enum Line {
        case text(String)
        case invalidUTF8(offset: Int)
        case tooLong(bytes: Int)
    }

    /// Twice the log's largest event: no valid command line comes near it.
    static let maximumLineBytes = 2 << 20

    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the next newline resumes: the bytes before it hold none.
    private var scanned = 0
    /// Bytes of an over-long line thrown away so far (the line is being skipped to its newline).
    private var skipping: Int?
    private var ended = false

    init(_ handle: FileHandle) { self.handle = handle }

    /// What the input holds now, up to `maximum` bytes, waiting only until some is there; empty at its end.
    private func readAvailable(maximum: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: maximum)
        while true {
            let count = bytes.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, maximum) }
            if count >= 0 { return Array(bytes.prefix(count)) }
            guard errno == EINTR else {
                throw ToolError("reading the commands failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    mutating func next() throws -> Line? {
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = take(start..<end)
                start = newline + 1
                scanned = start
                return line
            }
            scanned = buffer.count
            if ended {
                guard start < buffer.count || skipping != nil else { return nil }
                let line = take(start..<buffer.count)
                start = buffer.count
                scanned = start
                return line
            }
            if buffer.count - start > Self.maximumLineBytes {
                // Keep nothing of an over-long line but its length.
                skipping = (skipping ?? 0) + buffer.count - start
                start = buffer.count
            }
            buffer.removeFirst(start)
            scanned -= start
            start = 0
            // read(2), not FileHandle.read(upToCount:), which on Linux waits for the whole count or the end of the
            // input: a caller that sends a line and waits for its result over a pipe would wait forever.
            let chunk = try readAvailable(maximum: 1 << 16)
            guard !chunk.isEmpty else {
                ended = true
                continue
            }
            buffer += chunk
        }
    }

    private mutating func take(_ range: Range<Int>) -> Line {
        if let skipped = skipping {
            skipping = nil
            return .tooLong(bytes: skipped + range.count)
        }
        guard range.count <= Self.maximumLineBytes else { return .tooLong(bytes: range.count) }
        var iterator = buffer[range].makeIterator()
        var decoder = UTF8()
        var offset = 0
        var text = ""
        text.reserveCapacity(range.count)
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                text.unicodeScalars.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput:
                return .text(text)
            case .error:
                return .invalidUTF8(offset: offset)
            }
        }
    }
}
