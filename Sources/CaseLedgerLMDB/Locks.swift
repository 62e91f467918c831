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
