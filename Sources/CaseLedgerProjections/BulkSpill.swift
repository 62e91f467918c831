import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What went wrong with a bulk rebuild's spill files (the rebuild then scans the log once per round instead).
struct SpillError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// The C library's message for the current `errno`, after `what` and `path`.
    static func posix(_ what: String, _ path: String) -> SpillError {
        SpillError("\(what) \(path) failed: \(String(cString: strerror(errno)))")
    }
}

/// Which cases a partition of a bulk pass holds: those whose id's ``ByteInterner/quickHash(_:)`` falls in part `base`
/// of `of`, and then, for each split, in part `index` of the split's `of` parts (a split takes other bits of the hash).
struct CasePartition: Sendable, Hashable {
    struct Split: Sendable, Hashable {
        var index: Int
        var of: Int
    }
    var base: Int
    var of: Int
    var splits: [Split] = []

    /// The part of split number `depth` (from 0) that a case with this hash falls in, of `parts`.
    static func part(_ quickHash: Int, depth: Int, of parts: Int) -> Int {
        // A different multiplier per depth, then MurmurHash3's finaliser: independent of the base's remainder.
        var mixed = UInt64(UInt(bitPattern: quickHash)) &* (0x9e37_79b9_7f4a_7c15 &+ 2 &* UInt64(depth + 1))
        mixed ^= mixed >> 33
        mixed &*= 0xff51_afd7_ed55_8ccd
        mixed ^= mixed >> 33
        return Int(mixed % UInt64(parts))
    }

    func contains(_ quickHash: Int) -> Bool {
        guard BulkPartition.partition(quickHash, of: of) == base else { return false }
        for (depth, split) in splits.enumerated() where Self.part(quickHash, depth: depth, of: split.of) != split.index
        {
            return false
        }
        return true
    }

    /// The `parts` partitions this one splits into.
    func split(into parts: Int) -> [CasePartition] {
        (0..<parts).map { index in
            var part = self
            part.splits.append(Split(index: index, of: parts))
            return part
        }
    }
}

/// A spill file: its path and the bytes written to it, which its reader checks (a file changed meanwhile is an error,
/// not a partition with fewer cases).
struct SpillFile: Sendable {
    var path: String
    var bytes: Int
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

    /// Creates a fresh directory inside `parent`, after removing directories there that ended processes left.
    init(in parent: String) throws(SpillError) {
        Self.removeLeftovers(in: parent)
        let path = parent + "/" + Self.prefix + UUID().uuidString
        guard mkdir(path, 0o700) == 0 else { throw .posix("creating", path) }
        let lock = open(path + "/lock", O_WRONLY | O_CREAT, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let error = SpillError.posix("locking", path + "/lock")
            if lock >= 0 { close(lock) }
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        self.path = path
        self.lock = lock
    }

    /// Removes the directory and everything in it, then lets go of its lock.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
        close(lock)
    }

    /// Removes spill directories in `parent` whose lock no process holds.
    private static func removeLeftovers(in parent: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(prefix) {
            let path = parent + "/" + name
            let lock = open(path + "/lock", O_WRONLY)
            // No lock file: a directory made a moment ago whose lock is not there yet, or not a spill directory.
            guard lock >= 0 else { continue }
            defer { close(lock) }
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
        guard file.bytes > 0 else { return true }
        let descriptor = open(file.path, O_RDONLY)
        guard descriptor >= 0 else { throw .posix("opening", file.path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .posix("reading the size of", file.path) }
        let size = Int(status.st_size)
        guard size == file.bytes else {
            throw SpillError("\(file.path) holds \(size) bytes, not the \(file.bytes) written to it")
        }
        #if canImport(Glibc)
            // Read in at once: the file is read through from start to end.
            let flags = MAP_PRIVATE | MAP_POPULATE
        #else
            let flags = MAP_PRIVATE
        #endif
        guard let mapped = mmap(nil, size, PROT_READ, flags, descriptor, 0), mapped != MAP_FAILED else {
            throw .posix("mapping", file.path)
        }
        defer { munmap(mapped, size) }
        let bytes = UnsafeRawBufferPointer(start: mapped, count: size)
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
    private let flushAt: Int
    /// The first failure; the writer then drops what it is given.
    private(set) var failure: SpillError?

    /// `memory`: about how many bytes the buffers may hold together.
    init(files: [String], memory: Int = 8 << 20) {
        self.files = files
        flushAt = min(1 << 20, max(16 << 10, memory / max(1, files.count)))
        buffers = Array(repeating: [], count: files.count)
        written = Array(repeating: 0, count: files.count)
    }

    mutating func add(
        to output: Int, position: UInt64, quickHash: Int, id: UnsafeRawBufferPointer, type: UnsafeRawBufferPointer,
        metadata: UnsafeRawBufferPointer
    ) {
        guard failure == nil else { return }
        // Lengths past the fields' sizes cannot come from the log (its limits are far below), but are refused.
        guard id.count <= Int(UInt16.max), type.count <= Int(UInt16.max), metadata.count <= Int(UInt32.max) else {
            failure = SpillError("an event at position \(position) has a field too long for a spill record")
            return
        }
        if buffers[output].capacity == 0 { buffers[output].reserveCapacity(flushAt + 4_096) }
        withUnsafeBytes(of: position) { buffers[output].append(contentsOf: $0) }
        withUnsafeBytes(of: quickHash) { buffers[output].append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(id.count)) { buffers[output].append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(type.count)) { buffers[output].append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(metadata.count)) { buffers[output].append(contentsOf: $0) }
        // As typed buffers: appended with one copy each.
        buffers[output].append(contentsOf: id.assumingMemoryBound(to: UInt8.self))
        buffers[output].append(contentsOf: type.assumingMemoryBound(to: UInt8.self))
        buffers[output].append(contentsOf: metadata.assumingMemoryBound(to: UInt8.self))
        if buffers[output].count >= flushAt { flush(output) }
    }

    /// Writes out every buffer and returns the files with the bytes written to each; throws the first failure of the
    /// writer's life.
    mutating func finish() throws(SpillError) -> [SpillFile] {
        for output in buffers.indices where !buffers[output].isEmpty { flush(output) }
        if let failure { throw failure }
        return zip(files, written).map { SpillFile(path: $0, bytes: $1) }
    }

    private mutating func flush(_ output: Int) {
        guard failure == nil else { return }
        let path = files[output]
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else {
            failure = .posix("opening", path)
            return
        }
        defer { close(descriptor) }
        buffers[output].withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let count = write(descriptor, base + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = .posix("writing", path)
                    return
                }
                offset += count
            }
        }
        written[output] += buffers[output].count
        buffers[output].removeAll(keepingCapacity: true)
    }
}
