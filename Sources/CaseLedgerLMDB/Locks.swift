import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A readers-writer lock that keeps the memory map stable: every transaction holds it shared, and only a map
/// resize (which remaps the file) holds it exclusively, because LMDB requires that no transaction of this process
/// is active while `mdb_env_set_mapsize` runs.
///
/// Writers are preferred so that a resize is never starved by a stream of short read transactions. Shared holds are
/// re-entrant per thread (a thread-local depth): a transaction begun inside another one's closure on the same
/// thread does not take the lock again, so it cannot deadlock behind a waiting resize. A thread that holds the lock
/// shared must not take it exclusively; ``isHeldByCurrentThread`` lets callers avoid that.
///
/// `@unchecked Sendable`: the pthread lock is the synchronisation; the lock and the thread-local key are created
/// once and released in `deinit`, never reassigned.
final class ResizeLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private var depthKey = pthread_key_t()

    init() {
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
            pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        pthread_key_create(&depthKey, nil)
    }

    deinit {
        pthread_key_delete(depthKey)
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    private var depth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// Whether this thread is inside ``withShared(_:)``.
    var isHeldByCurrentThread: Bool { depth > 0 }

    @inline(__always)
    func withShared<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let outer = depth
        if outer == 0 { pthread_rwlock_rdlock(lock) }
        depth = outer + 1
        defer {
            depth = outer
            if outer == 0 { pthread_rwlock_unlock(lock) }
        }
        return try body()
    }

    func withExclusive<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// An exclusive advisory lock on a file (`flock`), shared by every process on the machine: held while the object
/// lives, released by ``release()``, by `deinit`, or by the system when the process ends (so a crash never leaves
/// it held).
///
/// Each instance opens the file itself, so two instances in one process exclude each other as two processes do.
/// The file is created when missing and never removed (removing it while another process waits on it would let two
/// holders in).
package final class FileLock: Sendable {
    /// Why a lock could not be taken.
    package enum Failure: Error, Sendable {
        /// Another holder has it.
        case held
        /// The file could not be opened or locked (`errno`).
        case system(Int32)

        /// What the system says of a ``system(_:)`` failure (`strerror`).
        package var reason: String {
            switch self {
            case .held: "held by another holder"
            case .system(let code): String(cString: strerror(code))
            }
        }
    }

    private let descriptor: Mutex<Int32>

    private init(descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock on the file at `path` without waiting.
    ///
    /// - Throws: ``Failure/held`` when another holder has it; ``Failure/system(_:)`` when the file cannot be opened
    ///   (a read-only directory, missing permissions).
    package static func take(_ path: String) throws(Failure) -> FileLock {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        if fd < 0, errno == EACCES {
            // A lock file another user created: flock needs no write access, only an open descriptor.
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw .system(errno) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            throw code == EWOULDBLOCK ? .held : .system(code)
        }
        return FileLock(descriptor: fd)
    }

    /// Releases the lock (closing the file); later calls do nothing.
    package func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            close(fd)  // closing the only descriptor of this open file releases the flock
            fd = -1
        }
    }

    deinit { release() }
}
