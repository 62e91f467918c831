import Foundation
import HeapModule

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What went wrong with a bulk rebuild's spill files (the rebuild then scans the log instead, in one round).
struct SpillError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// The C library's message for the current `errno`, after `what` and `path`.
    static func posix(_ what: String, _ path: String) -> SpillError {
        SpillError("\(what) \(path) failed: \(String(cString: strerror(errno)))")
    }
}

/// A spill file: its path and the bytes written to it, which its reader checks (a file whose size changed meanwhile is
/// an error, not a partition with fewer cases).
struct SpillFile: Sendable {
    var path: String
    var bytes: Int
    /// For a file of case events: how many it holds, and how many of them are registrations.
    var events = 0
    var registrations = 0
}

/// A bulk pass's case events, copied from the log into files, one or more per partition of the cases, so that each
/// partition reads its own events only and the log is scanned once however many partitions the cases need.
///
/// A record in a file: the position (8 bytes), the case id's quick hash (8), the lengths of the case id (2), type (2)
/// and metadata (4), in the host's byte order, then those bytes. The files live in a directory of their own
/// (`.caseledger-rebuild-<UUID>`), removed with everything in it by ``remove()``. While the directory is in use, its
/// `lock` file holds an exclusive `flock`: a directory whose lock can be taken was left by a process that ended
/// during a rebuild, and the next spill directory made beside it removes it.
final class SpillDirectory: Sendable {
    let path: String
    private let lock: Int32
    static let recordHeader = 24
    static let prefix = ".caseledger-rebuild-"
    /// A directory under this name is being made; it is renamed within microseconds, so one that is older than
    /// ``stagingLifetime`` was left by a process that ended in between.
    static let stagingPrefix = ".caseledger-staging-"
    static let stagingLifetime: Int = 600

    /// Creates a fresh directory inside `parent` (call ``removeLeftovers(in:)`` first). The directory is made under
    /// another name and takes its own only once its lock is held, so another process never finds it unlocked.
    init(in parent: String) throws(SpillError) {
        let name = UUID().uuidString
        let staging = parent + "/" + Self.stagingPrefix + name
        let path = parent + "/" + Self.prefix + name
        guard mkdir(staging, 0o700) == 0 else { throw .posix("creating", staging) }
        let lock = open(staging + "/lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0, rename(staging, path) == 0 else {
            let error = SpillError.posix("preparing", staging)
            if lock >= 0 { close(lock) }
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        self.path = path
        self.lock = lock
    }

    /// Throws unless the file system of `parent` has `bytes` free beyond a margin that stays for what else writes
    /// there: `margin` when given; else, when `parent` is on the file system of `store` (the store's appends need
    /// it), a tenth of that file system's size (at least 1 GiB, at most 16 GiB); else none. Two passes that check at
    /// once can together use more than the margin; a spill that then meets a full disk fails and the pass goes on
    /// without it.
    static func requireRoom(in parent: String, for bytes: Int, margin: Int? = nil, store: String) throws(SpillError) {
        var system = statvfs()
        guard statvfs(parent, &system) == 0 else { throw .posix("reading the free space of", parent) }
        func bytesOf(_ blocks: UInt64) -> Int {
            let (product, overflow) = blocks.multipliedReportingOverflow(by: UInt64(system.f_frsize))
            return overflow ? .max : Int(clamping: product)
        }
        let free = bytesOf(UInt64(system.f_bavail))
        var chosen = margin.map { max(0, $0) }
        if chosen == nil {
            var spillDevice = stat()
            var storeDevice = stat()
            let shared =
                stat(parent, &spillDevice) != 0 || stat(store, &storeDevice) != 0
                || spillDevice.st_dev == storeDevice.st_dev
            chosen = shared ? min(16 << 30, max(1 << 30, bytesOf(UInt64(system.f_blocks)) / 10)) : 0
        }
        let kept = chosen ?? 0
        let (total, overflow) = bytes.addingReportingOverflow(kept)
        guard !overflow, free >= total else {
            throw SpillError(
                "\(parent) has \(free >> 20) MiB free; the spill needs about \(bytes >> 20) MiB and leaves "
                    + "\(kept >> 20) MiB for the store")
        }
    }

    /// Removes the directory and everything in it, then lets go of its lock.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
        close(lock)
    }

    /// Removes spill directories in `parent` whose lock no process holds, and staging directories older than
    /// ``stagingLifetime`` seconds (left by a process that ended between making one and renaming it) unless their
    /// lock is held. Only real directories (no symbolic links) are considered, a `lock` only when it is a regular
    /// file, and the lock is opened without blocking or following links, so a file planted in a shared temporary
    /// directory cannot make a rebuild wait or remove something else.
    static func removeLeftovers(in parent: String, now: Int = time(nil)) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(prefix) || name.hasPrefix(stagingPrefix) {
            let path = parent + "/" + name
            var directory = stat()
            guard lstat(path, &directory) == 0, directory.st_mode & S_IFMT == S_IFDIR else { continue }
            let staging = name.hasPrefix(stagingPrefix)
            if staging && now - Int(directory.st_mtim.tv_sec) <= stagingLifetime { continue }
            let lock = open(path + "/lock", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
            // No lock file: not a spill directory, unless it is a staging one that ended before making its lock.
            guard lock >= 0 else {
                if staging && errno == ENOENT { try? FileManager.default.removeItem(atPath: path) }
                continue
            }
            defer { close(lock) }
            var status = stat()
            guard fstat(lock, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            if flock(lock, LOCK_EX | LOCK_NB) == 0 {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }

    /// Removes one file (once its partition is done, so the spill shrinks as the pass goes on).
    func remove(_ file: SpillFile) {
        unlink(file.path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Calls `body` with each record of `file` in order, until it returns `false`. Returns whether every record was
    /// visited; throws when the file does not hold exactly the bytes written to it.
    static func forEachRecord(
        in file: SpillFile,
        _ body: (
            _ position: UInt64, _ quickHash: Int, _ id: UnsafeRawBufferPointer, _ type: UnsafeRawBufferPointer,
            _ metadata: UnsafeRawBufferPointer
        ) -> Bool
    ) throws(SpillError) -> Bool {
        // Read in at once: the file is read through from start to end.
        let mapped = try MappedFile(file, populate: true)
        // The mapping must outlive the loop that reads its bytes.
        defer { withExtendedLifetime(mapped) {} }
        let bytes = mapped.bytes
        let size = bytes.count
        var offset = 0
        while offset < size {
            guard offset + recordHeader <= size else { throw SpillError("\(file.path) ends inside a record") }
            let position = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let hash = bytes.loadUnaligned(fromByteOffset: offset + 8, as: Int.self)
            let idLength = Int(bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt16.self))
            let typeLength = Int(bytes.loadUnaligned(fromByteOffset: offset + 18, as: UInt16.self))
            let metadataLength = Int(bytes.loadUnaligned(fromByteOffset: offset + 20, as: UInt32.self))
            let start = offset + recordHeader
            let end = start + idLength + typeLength + metadataLength
            guard end <= size else { throw SpillError("\(file.path) ends inside a record") }
            let id = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + idLength)])
            let type = UnsafeRawBufferPointer(rebasing: bytes[(start + idLength)..<(start + idLength + typeLength)])
            let metadata = UnsafeRawBufferPointer(rebasing: bytes[(start + idLength + typeLength)..<end])
            guard body(position, hash, id, type, metadata) else { return false }
            offset = end
        }
        return true
    }
}

/// Appends records to several spill files through a buffer each, written out when full and by ``finish()``.
struct SpillWriter: ~Copyable {
    let files: [String]
    private var buffers: [[UInt8]]
    /// The bytes written to each file so far.
    private var written: [Int]
    /// The events and registrations added to each file.
    private var events: [Int]
    private var registrations: [Int]
    private let flushAt: Int
    /// The first failure; the writer then drops what it is given.
    private(set) var failure: SpillError?

    /// `memory`: about how many bytes the buffers may hold together (each holds at least 4 KiB and a record).
    init(files: [String], memory: Int = 8 << 20) {
        self.files = files
        flushAt = min(1 << 20, max(4 << 10, memory / max(1, files.count)))
        buffers = Array(repeating: [], count: files.count)
        written = Array(repeating: 0, count: files.count)
        events = written
        registrations = written
    }

    mutating func add(
        to output: Int, position: UInt64, quickHash: Int, id: UnsafeRawBufferPointer, type: UnsafeRawBufferPointer,
        metadata: UnsafeRawBufferPointer, registration: Bool
    ) {
        guard failure == nil else { return }
        events[output] += 1
        if registration { registrations[output] += 1 }
        // Lengths past the fields' sizes cannot come from the log (its limits are far below), but are refused.
        guard id.count <= Int(UInt16.max), type.count <= Int(UInt16.max), metadata.count <= Int(UInt32.max) else {
            failure = SpillError("an event at position \(position) has a field too long for a spill record")
            return
        }
        if buffers[output].capacity == 0 { buffers[output].reserveCapacity(flushAt + 512) }
        buffers[output].appendNative(position)
        buffers[output].appendNative(quickHash)
        buffers[output].appendNative(UInt16(id.count))
        buffers[output].appendNative(UInt16(type.count))
        buffers[output].appendNative(UInt32(metadata.count))
        buffers[output].appendBytes(id)
        buffers[output].appendBytes(type)
        buffers[output].appendBytes(metadata)
        if buffers[output].count >= flushAt { flush(output) }
    }

    /// Writes out every buffer and returns the files with the bytes written to each; throws the first failure of the
    /// writer's life.
    mutating func finish() throws(SpillError) -> [SpillFile] {
        for output in buffers.indices where !buffers[output].isEmpty { flush(output) }
        if let failure { throw failure }
        return files.indices.map {
            SpillFile(path: files[$0], bytes: written[$0], events: events[$0], registrations: registrations[$0])
        }
    }

    private mutating func flush(_ output: Int) {
        guard failure == nil else { return }
        do {
            try SpillDirectory.append(buffers[output], to: files[output])
            written[output] += buffers[output].count
            buffers[output].removeAll(keepingCapacity: true)
        } catch {
            failure = error
        }
    }
}

extension SpillDirectory {
    /// Appends `bytes` to the file at `path`, creating it if need be.
    static func append(_ bytes: [UInt8], to path: String) throws(SpillError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .posix("opening", path) }
        defer { close(descriptor) }
        var failed = false
        bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let count = write(descriptor, base + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    return
                }
                offset += count
            }
        }
        if failed { throw .posix("writing", path) }
    }
}

/// A file mapped read-only for as long as the value lives (a file never written maps to no bytes).
final class MappedFile {
    let bytes: UnsafeRawBufferPointer

    /// Maps `file`, checking that it holds exactly the bytes written to it. `populate`: read it all in at once (for a
    /// file read through from start to end); else read ahead as it is read in order.
    init(_ file: SpillFile, populate: Bool = false) throws(SpillError) {
        guard file.bytes > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .posix("opening", file.path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .posix("reading the size of", file.path) }
        let size = Int(status.st_size)
        guard size == file.bytes else {
            throw SpillError("\(file.path) holds \(size) bytes, not the \(file.bytes) written to it")
        }
        #if canImport(Glibc)
            let flags = populate ? MAP_PRIVATE | MAP_POPULATE : MAP_PRIVATE
        #else
            let flags = MAP_PRIVATE
        #endif
        guard let mapped = mmap(nil, size, PROT_READ, flags, descriptor, 0), mapped != MAP_FAILED else {
            throw .posix("mapping", file.path)
        }
        #if canImport(Glibc)
            if !populate { _ = madvise(mapped, size, MADV_SEQUENTIAL) }
        #endif
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// Rows of one table in key order, handed out one at a time.
protocol RowStream {
    /// Where the stream is, to come back to.
    associatedtype Mark
    var mark: Mark { get }
    /// Goes back to `mark`: the rows after it are handed out again (a write transaction run again writes them again).
    mutating func rewind(to mark: Mark)
    /// Calls `body` with the next row's key and value (valid only inside it); `false` past the last row.
    mutating func next(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Bool
}

/// Writes one table's rows, in key order, to a row file through a buffer: per row the key's length (2 bytes) and the
/// value's (4), in the host's byte order, then the key and the value.
struct RowFileWriter {
    let path: String
    private var buffer: [UInt8] = []
    private var written = 0
    private static let flushAt = 1 << 20

    init(path: String) {
        self.path = path
        buffer.reserveCapacity(Self.flushAt + 4_096)
    }

    mutating func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(SpillError) {
        guard key.count <= Int(UInt16.max), value.count <= Int(UInt32.max) else {
            throw SpillError("a row of \(key.count) and \(value.count) bytes is too long for a row file")
        }
        buffer.appendNative(UInt16(key.count))
        buffer.appendNative(UInt32(value.count))
        buffer.appendBytes(key)
        buffer.appendBytes(value)
        if buffer.count >= Self.flushAt { try flush() }
    }

    /// Writes out the buffer and returns the file with the bytes written to it.
    mutating func finish() throws(SpillError) -> SpillFile {
        try flush()
        return SpillFile(path: path, bytes: written)
    }

    private mutating func flush() throws(SpillError) {
        guard !buffer.isEmpty else { return }
        try SpillDirectory.append(buffer, to: path)
        written += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Row files, each in key order, read as one stream in key order: a merge through a heap of each file's next row. Two
/// files with the same key (which a bulk pass does not make: every key holds its case's id, and a case is in one
/// partition) are an error, as appending the second row would be.
final class RowFileMerge: RowStream {
    struct Head: Comparable {
        var key: UnsafeRawBufferPointer
        var value: UnsafeRawBufferPointer
        var source: Int
        /// Where the source's following row starts.
        var next: Int

        static func < (a: Head, b: Head) -> Bool {
            let order = ByteInterner.compare(a.key, b.key)
            return order != 0 ? order < 0 : a.source < b.source
        }

        static func == (a: Head, b: Head) -> Bool {
            a.source == b.source && a.key.count == b.key.count && ByteInterner.compare(a.key, b.key) == 0
        }
    }

    private let files: [MappedFile]
    private var heap = Heap<Head>()

    var mark: Heap<Head> { heap }

    func rewind(to mark: Heap<Head>) { heap = mark }

    init(_ files: [SpillFile]) throws(SpillError) {
        var mapped: [MappedFile] = []
        for file in files { mapped.append(try MappedFile(file)) }
        self.files = mapped
        for source in mapped.indices {
            if let head = try row(source, at: 0) { heap.insert(head) }
        }
    }

    /// The row of `source` at byte `offset`, `nil` at the file's end.
    private func row(_ source: Int, at offset: Int) throws(SpillError) -> Head? {
        let bytes = files[source].bytes
        guard offset < bytes.count else { return nil }
        guard offset + 6 <= bytes.count else { throw SpillError("a row file ends inside a row") }
        let keyLength = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        let valueLength = Int(bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self))
        let key = offset + 6
        let end = key + keyLength + valueLength
        guard end <= bytes.count else { throw SpillError("a row file ends inside a row") }
        return Head(
            key: UnsafeRawBufferPointer(rebasing: bytes[key..<(key + keyLength)]),
            value: UnsafeRawBufferPointer(rebasing: bytes[(key + keyLength)..<end]), source: source, next: end)
    }

    func next(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let head = heap.popMin() else { return false }
        if let same = heap.min, same.key.count == head.key.count, ByteInterner.compare(same.key, head.key) == 0 {
            throw SpillError("two row files hold the key \(hex(Array(head.key))): one case in two partitions")
        }
        try body(head.key, head.value)
        if let following = try row(head.source, at: head.next) { heap.insert(following) }
        return true
    }
}

/// The rows of several runs (each in key order, from partitions that share no key) as one stream in key order.
struct MergedRuns: RowStream {
    private let runs: [RowRun]
    private let order: [(run: Int32, row: Int32)]
    private var index = 0

    init(_ runs: [RowRun]) {
        self.runs = runs
        order = RowRun.merged(runs)
    }

    var mark: Int { index }

    mutating func rewind(to mark: Int) { index = mark }

    mutating func next(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard index < order.count else { return false }
        let (run, row) = order[index]
        index += 1
        try runs[Int(run)].withRow(Int(row), body)
        return true
    }
}
