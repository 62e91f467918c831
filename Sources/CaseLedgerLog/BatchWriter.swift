internal import CaseLedgerLMDB
import Synchronization

/// Writes one group commit: every request of the batch, each checked on its own, in one write transaction.
///
/// A request that fails its checks (expected version, reused idempotency key) gets its own failure and writes
/// nothing; the others go on. All state is computed from the requests and the transaction, so the whole write can run
/// again when LMDB asks for a bigger map.
struct BatchWriter {
    let databases: LMDBEventLog.Databases
    let clock: any EventClock

    func write(_ requests: [AppendRequest], in txn: borrowing WriteTransaction) throws
        -> ([Result<AppendResult, EventLogError>], UInt64)
    {
        var head = try LMDBEventLog.readHead(txn, databases)
        let startPosition = head.position
        let now = clock.now()
        let recordedAt = max(now, head.recordedAt)  // the log's time never runs backwards
        var streamVersions: [String: UInt64] = [:]
        var keysInBatch: [String: AppendResult] = [:]
        var results: [Result<AppendResult, EventLogError>] = []
        results.reserveCapacity(requests.count)

        for request in requests {
            if let key = request.idempotencyKey {
                if let earlier = keysInBatch[key] {
                    results.append(Self.duplicate(earlier, for: request, key: key))
                    continue
                }
                if let stored = try storedResult(forKey: key, txn) {
                    results.append(Self.duplicate(stored, for: request, key: key))
                    continue
                }
            }
            // Check every stream before writing anything for this request.
            var current: [UInt64] = []
            var conflict: EventLogError?
            for stream in request.streams {
                let version = try streamVersions[stream.streamID]
                    ?? LMDBEventLog.currentVersion(of: stream.streamID, txn, databases)
                if let failure = Self.check(stream, currentVersion: version) {
                    conflict = failure
                    break
                }
                current.append(version)
            }
            if let conflict {
                results.append(.failure(conflict))
                continue
            }

            let first = head.position + 1
            var streamResults: [AppendResult.StreamResult] = []
            for (stream, version) in zip(request.streams, current) {
                var streamVersion = version
                // One stream-index key buffer per stream; only its version suffix changes per event.
                var indexKey = Keys.stream(stream.streamID, version: 0)
                for event in stream.events {
                    head.position += 1
                    streamVersion += 1
                    head.chainHash = try writeRecord(
                        RecordCodec.Fields(
                            position: head.position, streamID: stream.streamID, streamVersion: streamVersion,
                            recordedAt: recordedAt, idempotencyKey: request.idempotencyKey, event: event),
                        previousHash: head.chainHash, indexKey: &indexKey, txn)
                }
                streamVersions[stream.streamID] = streamVersion
                streamResults.append(
                    .init(streamID: stream.streamID, firstVersion: version + 1, lastVersion: streamVersion))
            }
            let result = AppendResult(positions: first...head.position, streams: streamResults, wasDuplicate: false)
            if let key = request.idempotencyKey {
                var value = Keys.position(first)
                value += Keys.position(head.position)
                try txn.put(databases.idempotency, key: Array(key.utf8), value: value, options: .noOverwrite)
                keysInBatch[key] = result
            }
            results.append(.success(result))
        }
        if head.position != startPosition {
            head.recordedAt = recordedAt
            try txn.put(databases.meta, key: Array("head".utf8), value: LMDBEventLog.encodeHead(head))
        }
        return (results, head.position)
    }

    private func writeRecord(
        _ fields: RecordCodec.Fields, previousHash: ChainHash, indexKey: inout [UInt8],
        _ txn: borrowing WriteTransaction
    ) throws -> ChainHash {
        let size = RecordCodec.size(streamID: fields.streamID, idempotencyKey: fields.idempotencyKey, event: fields.event)
        var hash = ChainHash.zero
        let suffix = indexKey.count - 8
        indexKey.withUnsafeMutableBytes { key in
            key.storeBytes(of: fields.streamVersion.bigEndian, toByteOffset: suffix, as: UInt64.self)
        }
        try withUnsafeBytes(of: fields.position.bigEndian) { positionKey in
            try txn.reserve(databases.events, key: positionKey, size: size, options: .append) { out in
                hash = RecordCodec.encode(fields, previousHash: previousHash, into: out)
            }
            try indexKey.withUnsafeBytes { key in
                try txn.put(databases.streams, key: key, value: positionKey, options: .noOverwrite)
            }
        }
        return hash
    }

    static func check(_ stream: StreamAppend, currentVersion: UInt64) -> EventLogError? {
        let ok: Bool
        switch stream.expectedVersion {
        case .any: ok = true
        case .noStream: ok = currentVersion == 0
        case .streamExists: ok = currentVersion > 0
        case .exact(let expected): ok = UInt64(expected) == currentVersion
        }
        guard !ok else { return nil }
        return EventLogError(
            code: .wrongExpectedVersion,
            message: "expected \(stream.expectedVersion) but the stream is at version \(currentVersion); "
                + "read the stream again and retry the command", streamID: stream.streamID)
    }

    /// The stored result of an idempotency key, rebuilt from the records it wrote.
    private func storedResult(forKey key: String, _ txn: borrowing WriteTransaction) throws -> AppendResult? {
        guard let value = try txn.value(databases.idempotency, key: Array(key.utf8)), value.count == 16 else {
            return nil
        }
        let (first, last) = value.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        guard first >= 1, last >= first else { return nil }
        var streams: [AppendResult.StreamResult] = []
        for position in first...last {
            let event = try LMDBEventLog.event(at: position, txn, databases)
            if let index = streams.firstIndex(where: { $0.streamID == event.streamID }) {
                streams[index].lastVersion = event.streamVersion
            } else {
                streams.append(
                    .init(streamID: event.streamID, firstVersion: event.streamVersion, lastVersion: event.streamVersion))
            }
        }
        return AppendResult(positions: first...last, streams: streams, wasDuplicate: true)
    }

    /// The original result for a repeated key, or an error when the key was used for a different request.
    static func duplicate(_ original: AppendResult, for request: AppendRequest, key: String)
        -> Result<AppendResult, EventLogError>
    {
        let originalStreams = original.streams.map(\.streamID)
        let requested = request.streams.map(\.streamID)
        let originalCount = original.positions.count
        guard originalStreams == requested, originalCount == request.eventCount else {
            return .failure(
                EventLogError(
                    code: .idempotencyKeyReused,
                    message: "idempotency key \"\(key)\" was stored for \(originalCount) events of "
                        + "\(originalStreams.joined(separator: ", ")); this request differs. Use a new key",
                    position: original.positions.lowerBound))
        }
        var result = original
        result.wasDuplicate = true
        return .success(result)
    }
}

/// Wakes subscriptions waiting for the head to pass a position. Appenders only bump a number and resume the
/// waiters; no waiter can slow an append down.
final class HeadNotifier: Sendable {
    private struct Waiter {
        var after: UInt64
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var head: UInt64
        var closed = false
        var nextID = 0
        var waiters: [Int: Waiter] = [:]
        /// Ids handed out whose waiter is not registered yet (a cancellation may come first).
        var unregistered: Set<Int> = []
        var cancelled: Set<Int> = []
    }

    private let state: Mutex<State>

    init(head: UInt64) {
        state = Mutex(State(head: head))
    }

    func advance(to head: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.head = max(state.head, head)
            var ready: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.after < state.head {
                ready.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    func close() {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in all { continuation.resume() }
    }

    /// Returns once the head is past `position`, the log closes, or the task is cancelled.
    func wait(after position: UInt64) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            state.unregistered.insert(state.nextID)
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    state.unregistered.remove(id)
                    if state.cancelled.remove(id) != nil || state.closed || state.head > position { return true }
                    state.waiters[id] = Waiter(after: position, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if state.unregistered.contains(id) { state.cancelled.insert(id) }
                return nil
            }
            waiter?.continuation.resume()
        }
    }
}
