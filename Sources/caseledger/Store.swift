import ArgumentParser
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import Logging
import Synchronization
import Yams

/// The exit statuses of every subcommand (Docs/Tool.md).
enum Status {
    /// A check the command ran found a problem (verification failed, a command line was refused).
    static let checkFailed = ExitCode(1)
    /// The command could not run: a store, file or argument it needs is missing or unusable.
    static let cannotRun = ExitCode(2)
}

/// A failure that stops a subcommand: the message says what was wrong and what to do.
struct ToolError: Error, CustomStringConvertible {
    var message: String
    var status: ExitCode = Status.cannotRun
    /// The store could not be opened because it is damaged (a check that finds this reports a failure, status 1).
    var storeDamaged = false
    /// The store's log opened, but its views' state could not be read.
    var viewsDamaged = false
    var description: String { message }

    init(_ message: String, status: ExitCode = Status.cannotRun) {
        self.message = message
        self.status = status
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs a subcommand's body; a ``ToolError`` or any other error becomes a message on standard error and an exit
/// status, never a crash.
func running(_ name: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as ToolError {
        printError("caseledger \(name): \(error.message)")
        throw error.status
    } catch {
        printError("caseledger \(name): \(error)")
        throw Status.cannotRun
    }
}

/// Options every subcommand that works on a store takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store directory.")
    var store: String

    @Option(
        name: .customLong("override"),
        help: "A region's definition override (YAML), applied to the national definitions; repeat for several.")
    var overrides: [String] = []

    @Flag(name: .long, help: "Log the library's informational messages on standard error.")
    var verbose = false

    /// The national definitions with the region's overrides applied, in the order given.
    func definitions() throws -> DefinitionRegistry {
        var registry: DefinitionRegistry
        do {
            registry = try DefinitionRegistry.national()
        } catch {
            throw ToolError("the shipped definitions do not load: \(error)")
        }
        for file in overrides {
            guard let yaml = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ToolError("cannot read the override \(file)")
            }
            do {
                registry = try registry.applying(yaml: yaml)
            } catch {
                throw ToolError("the override \(file) is not valid: \(error)")
            }
        }
        return registry
    }

    var logger: Logger {
        var logger = Logger(label: "caseledger")
        logger.logLevel = verbose ? .info : .warning
        return logger
    }
}

/// The files a store directory holds besides LMDB's `data.mdb` and `lock.mdb`.
enum StoreFiles {
    /// Units and persons, in the YAML of `Directory(yaml:)`.
    static let directory = "directory.yaml"
    /// The key of the repeat-disputes view's keyed hash of party references (32 bytes, hexadecimal).
    static let partyKey = "party.key"
}

/// The store's log alone, for the subcommands that need no views (`backup`, `verify --read-only`).
func openLogOnly(_ path: String, mode: LMDBEventLog.AccessMode) throws -> LMDBEventLog {
    guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { throw ToolError("no store at \(path)") }
    do {
        return try LMDBEventLog.open(at: path, mode: mode)
    } catch {
        throw ToolError.opening(path, error)
    }
}

extension ToolError {
    /// Opening the store at `path` failed with `error`; marked when the store is damaged.
    static func opening(_ path: String, _ error: EventLogError) -> ToolError {
        var failure = ToolError("cannot open the store at \(path): \(error)")
        failure.storeDamaged = error.code == .corrupted
        return failure
    }
}

/// A store opened by the tool: the log, its views and its directory of units and persons.
final class OpenStore {
    let path: String
    let log: LMDBEventLog
    let runtime: ProjectionRuntime
    let logger: Logger
    let options: StoreOptions

    /// Opens the store at `path`. `create` allows a new store; otherwise a missing store is an error.
    init(
        _ options: StoreOptions, create: Bool = false, durability: LMDBEventLog.Durability = .durable,
        clock: (any EventClock)? = nil, chunkSize: Int = 4_096, spillDirectory: String? = nil
    ) throws {
        path = options.store
        let logger = options.logger
        self.logger = logger
        self.options = options
        let manager = FileManager.default
        let exists = manager.fileExists(atPath: path + "/data.mdb")
        guard exists || create else {
            throw ToolError(
                "no store at \(path): create one with `caseledger simulate --store \(path)`, or with `caseledger exec "
                    + "--store \(path) --directory UNITS.yaml`")
        }
        if !exists {
            do {
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw ToolError("cannot create the store directory \(path): \(error.localizedDescription)")
            }
        }
        var configuration = LMDBEventLog.Configuration()
        configuration.durability = durability
        configuration.logger = logger
        if let clock { configuration.clock = clock }
        do {
            log = try LMDBEventLog.open(at: path, configuration: configuration)
        } catch {
            throw ToolError.opening(path, error)
        }
        let key: [UInt8]
        do {
            // A new store gets a new key (also one left empty by a crash before its key was written); an existing
            // store's key is never replaced, since the view depends on it.
            let empty = try log.head().position == 0
            key = try Self.partyKey(in: path, create: !exists || empty)
        } catch {
            log.close()
            throw ToolError("cannot open the views of \(path): \(error)")
        }
        do {
            runtime = try ProjectionRuntime(
                log: log, projections: try Self.views(partyKey: key), logger: logger, chunkSize: chunkSize,
                spillDirectory: spillDirectory)
        } catch {
            log.close()
            var failure = ToolError("cannot open the views of \(path): \(error)")
            // Their state in the store is unreadable (not a lock held by another process, say).
            failure.viewsDamaged = (error as? ProjectionError)?.code == .storage
            throw failure
        }
    }

    /// The built-in views, kept asynchronously: the tool brings them up to date (``catchUp()``) before it reads them.
    static func views(partyKey: [UInt8]) throws -> [(any Projection, ProjectionRuntime.Mode)] {
        [
            (CaseSummaryProjection(), .async), (DeadlinesProjection(), .async), (BoardProjection(), .async),
            (MonthlyStatisticsProjection(), .async), (WorkloadProjection(), .async),
            (try RepeatDisputesProjection(partyKey: partyKey), .async),
        ]
    }

    /// Applies every event not yet in the views, then makes sure none of them stopped: a stopped view would answer
    /// queries from before its failing event.
    func catchUp() throws {
        do {
            _ = try runtime.catchUp()
        } catch {
            throw ToolError("bringing the views up to date failed: \(error); see `caseledger views status`")
        }
        try requireHealthyViews()
    }

    /// Throws, with status 1, when a view stopped at an event it could not apply.
    func requireHealthyViews() throws {
        try Self.requireHealthyViews(runtime, path: path)
    }

    /// Throws, with status 1, when one of `runtime`'s views stopped at an event it could not apply (a stopped view
    /// answers from before that event).
    static func requireHealthyViews(_ runtime: ProjectionRuntime, path: String) throws {
        let status: [ProjectionRuntime.Status]
        do {
            status = try runtime.status()
        } catch {
            throw ToolError("reading the views' status failed: \(error)")
        }
        if let stopped = status.first(where: { $0.failure != nil }) {
            throw ToolError(
                "the view '\(stopped.name)' stopped at position \(stopped.failedAt ?? 0): \(stopped.failure ?? ""); "
                    + "after a fix, `caseledger views rebuild --store \(path) \(stopped.name)`",
                status: Status.checkFailed)
        }
    }

    func close() {
        runtime.shutdown()
        log.close()
    }

    /// The store's directory of units and persons.
    func directory() throws -> Directory {
        let file = path + "/" + StoreFiles.directory
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ToolError(
                "the store has no \(StoreFiles.directory) (units and persons); give one with --directory FILE")
        }
        do {
            return try Directory(yaml: text)
        } catch {
            throw ToolError("\(file): \(error.problem)")
        }
    }

    /// Writes `directory` as the store's `directory.yaml`.
    func save(_ directory: Directory) throws {
        // Roles and units are sets: written sorted, so identical runs write identical files.
        struct Member: Encodable {
            var id: PersonID
            var name: String
            var roles: [String]
            var units: [UnitID]
        }
        struct File: Encodable {
            var units: [ServiceUnit]
            var persons: [Member]
        }
        let file = File(
            units: directory.units.values.sorted { $0.id < $1.id },
            persons: directory.persons.values.sorted { $0.id < $1.id }.map {
                Member(id: $0.id, name: $0.name, roles: $0.roles.map(\.rawValue).sorted(), units: $0.units.sorted())
            })
        let yaml: String
        do {
            yaml = try YAMLEncoder().encode(file)
        } catch {
            throw ToolError("cannot encode the directory: \(error)")
        }
        try writeDurably(Data(yaml.utf8), to: path + "/" + StoreFiles.directory, permissions: 0o644)
    }

    /// The store's party key, created (32 random bytes, mode 0600) when `create` and missing.
    static func partyKey(in path: String, create: Bool) throws -> [UInt8] {
        let file = path + "/" + StoreFiles.partyKey
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = bytes(hex: hex), key.count >= 16 else {
                throw ToolError("\(file) is not a hexadecimal key of at least 16 bytes; restore it from a backup")
            }
            return key
        }
        guard create else {
            throw ToolError(
                "\(file) (the key of the repeat-disputes view) is missing: restore it from a backup of the store, or "
                    + "write a new one (`head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > \(file)`) and run "
                    + "`caseledger views rebuild --store \(path) repeatDisputes`")
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = key.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + "\n"
        try writeDurably(Data(text.utf8), to: file, permissions: 0o600)
        return key
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    func rightPadded(to width: Int) -> String {
        let w = displayWidth
        return w >= width ? self : self + String(repeating: " ", count: width - w)
    }

    /// Columns on a terminal: CJK characters take two.
    var displayWidth: Int {
        unicodeScalars.reduce(0) { width, scalar in
            let v = scalar.value
            let wide =
                (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v)
            return width + (wide ? 2 : 1)
        }
    }
}

/// `fsync` of a file or directory; `false` when it cannot be opened or flushed.
func flushToDisk(_ path: String) -> Bool {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return fsync(descriptor) == 0
}

/// Writes `data` to `path` so that a crash leaves the old file or the whole new one, never a part of it: a temporary
/// file beside it, flushed, renamed over `path`, then the directory flushed.
func writeDurably(_ data: Data, to path: String, permissions: mode_t) throws {
    let temporary = path + ".partial"
    unlink(temporary)
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, permissions)
    guard descriptor >= 0 else { throw ToolError("cannot create \(temporary) (errno \(errno))") }
    var written = 0
    let ok = data.withUnsafeBytes { raw -> Bool in
        guard let base = raw.baseAddress else { return fsync(descriptor) == 0 }
        while written < raw.count {
            let count = write(descriptor, base + written, raw.count - written)
            guard count > 0 else { return false }
            written += count
        }
        return fsync(descriptor) == 0
    }
    close(descriptor)
    guard ok, rename(temporary, path) == 0,
        flushToDisk(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    else {
        unlink(temporary)
        throw ToolError("cannot write \(path) durably (errno \(errno)); is the disk full?")
    }
}

/// Times as the tool shows them: ISO 8601 in the store's legal time zone (Asia/Shanghai, +08:00).
/// `Instant.description` is `LegalTime.format` for plausible times and shows a damaged or forged record's time as
/// raw microseconds, so no calendar arithmetic can overflow on it.
func show(_ instant: Instant) -> String { instant.description }

func show(_ timestamp: Timestamp) -> String { show(Instant(timestamp)) }

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (Asia/Shanghai) or a full ISO 8601 time with an offset or `Z`.
func parseTime(_ text: String) -> Instant? {
    if let date = CivilDate(text) { return LegalTime.startOf(date) }
    let parts = text.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2, let date = CivilDate(parts[0]) else { return nil }
    var clock = Substring(parts[1])
    // The offset: none (legal time), Z, or ±HH:MM up to 14 hours.
    var offsetMinutes = Int(LegalTime.offsetHours) * 60
    if clock.hasSuffix("Z") {
        offsetMinutes = 0
        clock = clock.dropLast()
    } else if let sign = clock.lastIndex(where: { $0 == "+" || $0 == "-" }) {
        let offset = clock[clock.index(after: sign)...].split(separator: ":", omittingEmptySubsequences: false)
        guard offset.count == 2, let hours = twoDigits(offset[0]), let minutes = twoDigits(offset[1]),
            minutes < 60, hours * 60 + minutes <= 14 * 60
        else { return nil }
        offsetMinutes = (hours * 60 + minutes) * (clock[sign] == "-" ? -1 : 1)
        clock = clock[..<sign]
    }
    var micros: Int64 = 0
    let hasFraction = clock.contains(".")
    if let dot = clock.firstIndex(of: ".") {
        let fraction = clock[clock.index(after: dot)...]
        guard (1...6).contains(fraction.count), fraction.allSatisfy(\.isASCII), fraction.allSatisfy(\.isNumber),
            let value = Int64(fraction)
        else { return nil }
        micros = value * Int64([1, 100_000, 10_000, 1_000, 100, 10, 1][fraction.count])
        clock = clock[..<dot]
    }
    let fields = clock.split(separator: ":", omittingEmptySubsequences: false)
    guard (2...3).contains(fields.count), !hasFraction || fields.count == 3, let hour = twoDigits(fields[0]),
        let minute = twoDigits(fields[1]),
        hour < 24, minute < 60
    else { return nil }
    var second = 0
    if fields.count == 3 {
        guard let value = twoDigits(fields[2]), value < 60 else { return nil }
        second = value
    }
    let local = LegalTime.instant(date, hour: hour, minute: minute).adding(seconds: Int64(second))
    // `LegalTime.instant` reads the clock in +08:00; move it by the difference to the given offset.
    let shift = Int64(Int(LegalTime.offsetHours) * 60 - offsetMinutes) * 60
    return Instant(microsecondsSinceEpoch: local.adding(seconds: shift).microsecondsSinceEpoch + micros)
}

/// Exactly two ASCII digits.
private func twoDigits(_ text: Substring) -> Int? {
    guard text.count == 2, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(text)
}

extension Instant {
    func adding(seconds: Int64) -> Instant {
        Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + seconds * 1_000_000)
    }
}

/// One JSON value per line on standard output, keys sorted so output is stable.
func jsonLine(_ object: Any) -> String {
    guard JSONSerialization.isValidJSONObject(object),
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// Text columns, padded to the widest cell (CJK aware).
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.displayWidth)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.displayWidth) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in i == cells.count - 1 ? cell : cell.rightPadded(to: widths[i]) }
            .joined(separator: "  ")
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line))
        .joined(separator: "\n")
}

/// Runs this executable again, with the same arguments and `variable` set in its environment, and passes its
/// standard error through: LMDB trusts its page structure, so a damaged page can stop the process that reads it, and
/// only a child can report that as what it is.
///
/// - Returns: `nil` when the child succeeded; what was found when LMDB stopped it on a damaged page (an assertion
///   naming `mdb.c`, or a bad memory access).
/// - Throws: `ExitCode` with the child's status when it failed otherwise; ``ToolError`` when it could not start, or
///   was stopped by another signal (the system killed it for lack of memory, say), which says nothing of the store.
func runAgainInChild(setting variable: String, command: String, process name: String, work: String) throws -> String? {
    let executable =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executable)
    child.arguments = Array(CommandLine.arguments.dropFirst())
    var environment = ProcessInfo.processInfo.environment
    environment[variable] = "1"
    environment["SWIFT_BACKTRACE"] = "enable=no"
    child.environment = environment
    let errors = Pipe()
    child.standardError = errors
    do {
        try child.run()
    } catch {
        throw ToolError("cannot start the \(name) process \(executable): \(error)")
    }
    // Read standard error while the child runs, so a full pipe cannot block it.
    let captured = Mutex(Data())
    let reading = DispatchGroup()
    let handle = errors.fileHandleForReading
    DispatchQueue.global().async(group: reading) {
        let data = handle.readDataToEndOfFile()
        captured.withLock { $0 = data }
    }
    child.waitUntilExit()
    reading.wait()
    let text = String(decoding: captured.withLock { $0 }, as: UTF8.self)
    switch child.terminationReason {
    case .exit:
        FileHandle.standardError.write(Data(text.utf8))
        let status = child.terminationStatus
        if status != 0 { throw ExitCode(status) }
        return nil
    case .uncaughtSignal:
        let signal = child.terminationStatus
        // LMDB stops a process that reads a damaged page with an assertion (SIGABRT, after printing a line naming
        // mdb.c) or a bad memory access (SIGSEGV, SIGBUS).
        let detail = text.split(separator: "\n").first { $0.contains("mdb.c") }
        guard (signal == SIGABRT && detail != nil) || signal == SIGSEGV || signal == SIGBUS else {
            FileHandle.standardError.write(Data(text.utf8))
            throw ToolError(
                "the \(name) process was stopped by signal \(signal) before it finished (the system may have "
                    + "killed it for lack of memory, or the tool failed); \(work) did not complete, so it says "
                    + "nothing about the store: run \(command) again, and report the signal if it recurs")
        }
        return "the store's page structure is damaged: LMDB stopped with signal \(signal) while reading it"
            + "\(detail.map { " (\($0))" } ?? ""); restore the store from a verified backup"
    @unknown default:
        throw ToolError("the \(name) process ended in an unknown way")
    }
}
