internal import CaseLedgerLMDB
import Dispatch
import Synchronization

// Test hooks: `package` and underscored, so they are not API (see Docs/public-api.md).
extension LMDBEventLog {
    /// Holds the group-commit writer until the returned closure is called, so a test can queue appends
    /// deterministically and see them committed together.
    package func _pauseWriter() -> @Sendable () -> Void {
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        writerQueue.async {
            entered.signal()
            gate.wait()
        }
        entered.wait()
        return { gate.signal() }
    }

    /// The number of appends waiting for the writer.
    package var _queuedAppends: Int { writer.withLock { $0.queue.count } }

    /// LMDB's last committed write-transaction id: one per group commit.
    package func _lastTransactionID() throws -> Int { try environment.info().lastTransactionID }

    /// Whether LMDB flushes every commit (reads LMDB's flags, not the configuration).
    package var _syncsOnCommit: Bool { environment.syncsOnCommit }

    /// ``verify()`` with a chosen chunk size, to test that chunks join up.
    package func _verify(chunkSize: Int) throws(EventLogError) -> VerificationReport {
        try verify(chunkSize: chunkSize)
    }
}
