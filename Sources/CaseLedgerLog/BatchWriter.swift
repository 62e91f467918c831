internal import CaseLedgerLMDB
import Crypto
import Synchronization

/// Writes one group commit: every request of the batch, each checked on its own, in one write transaction.
///
/// A request that fails its checks (expected version, reused idempotency key) gets its own failure and writes
/// nothing; the others go on. All state is computed from the requests and the transaction, so the whole write can run
/// again when LMDB asks for a bigger map.
struct BatchWriter {
    let databases: LMDBEventLog.Databases
    let clock: any EventClock

    /// Returns each request's result, the new head position, and the head position before the batch.
    func write(_ requests: [AppendRequest], in txn: borrowing WriteTransaction) throws
        -> ([Result<AppendResult, EventLogError>], UInt64, UInt64)
    {
        var head = try LMDBEventLog.readHead(txn, databases)
        let startPosition = head.position
        let now = clock.now()
        // The log's time never runs backwards (an empty log takes the clock as it is, even before 1970).
        let recordedAt = head.position == 0 ? now : max(now, head.recordedAt)
        // Keyed by UTF-8 bytes, not `String`: canonically equivalent strings with different bytes are different
        // streams and keys in the store, so they must be different here too.
        var streamVersions: [[UInt8]: UInt64] = [:]
        var keysInBatch: [[UInt8]: (AppendResult, RequestFingerprint)] = [:]
        var results: [Result<AppendResult, EventLogError>] = []
        results.reserveCapacity(requests.count)

        for request in requests {
            let fingerprint = request.idempotencyKey.map { _ in RequestFingerprint(request) }
            if let key = request.idempotencyKey, let fingerprint {
                if let (earlier, earlierFingerprint) = keysInBatch[Array(key.utf8)] {
                    results.append(Self.duplicate(earlier, earlierFingerprint, for: fingerprint, key: key))
                    continue
                }
                if let (stored, storedFingerprint) = try storedResult(forKey: key, txn) {
                    results.append(Self.duplicate(stored, storedFingerprint, for: fingerprint, key: key))
                    continue
                }
            }
            // Check every stream before writing anything for this request.
            var current: [UInt64] = []
            var conflict: EventLogError?
            for stream in request.streams {
                let version =
                    try streamVersions[Array(stream.streamID.utf8)]
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

            // Positions and versions near the end of `UInt64` exist only in a damaged or planted store: refuse the
            // request instead of overflowing.
            let eventCount = UInt64(request.streams.reduce(0) { $0 + $1.events.count })
            guard head.position <= UInt64.max - eventCount,
                zip(request.streams, current).allSatisfy({ $1 <= UInt64.max - UInt64($0.events.count) })
            else {
                results.append(
                    .failure(
                        EventLogError(
                            code: .corrupted,
                            message: "the log's head (\(head.position)) or a stream's version is too close to the "
                                + "largest number to append more; the store is damaged: verify it and restore it from a "
                                + "backup")))
                continue
            }
            let first = head.position + 1
            var streamResults: [AppendResult.StreamResult] = []
            for (stream, version) in zip(request.streams, current) where !stream.events.isEmpty {
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
                streamVersions[Array(stream.streamID.utf8)] = streamVersion
                streamResults.append(
                    .init(streamID: stream.streamID, firstVersion: version + 1, lastVersion: streamVersion))
            }
            let result = AppendResult(positions: first...head.position, streams: streamResults, wasDuplicate: false)
            if let key = request.idempotencyKey, let fingerprint {
                var value = Keys.position(first)
                value += Keys.position(head.position)
                value += fingerprint.bytes
                try txn.put(databases.idempotency, key: Array(key.utf8), value: value, options: .noOverwrite)
                keysInBatch[Array(key.utf8)] = (result, fingerprint)
            }
            results.append(.success(result))
        }
        if head.position != startPosition {
            head.recordedAt = recordedAt
            try txn.put(databases.meta, key: Array("head".utf8), value: LMDBEventLog.encodeHead(head))
        }
        return (results, head.position, startPosition)
    }

    private func writeRecord(
        _ fields: RecordCodec.Fields, previousHash: ChainHash, indexKey: inout [UInt8],
        _ txn: borrowing WriteTransaction
    ) throws -> ChainHash {
        let size = RecordCodec.size(
            streamID: fields.streamID, idempotencyKey: fields.idempotencyKey, event: fields.event)
        var hash = ChainHash.zero
        let suffix = indexKey.count - 8
        indexKey.withUnsafeMutableBytes { key in
            key.storeBytes(of: fields.streamVersion.bigEndian, toByteOffset: suffix, as: UInt64.self)
        }
        do {
            try withUnsafeBytes(of: fields.position.bigEndian) { positionKey in
                try txn.reserve(databases.events, key: positionKey, size: size, options: .append) { out in
                    hash = RecordCodec.encode(fields, previousHash: previousHash, into: out)
                }
                try indexKey.withUnsafeBytes { key in
                    try txn.put(databases.streams, key: key, value: positionKey, options: .noOverwrite)
                }
            }
        } catch let error as LMDBError where error.code == .keyExists {
            // The head and the stream versions come from the store itself, so only a damaged store has these keys.
            throw EventLogError(
                code: .corrupted,
                message: "position \(fields.position) or version \(fields.streamVersion) of stream "
                    + "\(fields.streamID) is stored already, past the store's head: the store is damaged; run verify "
                    + "on a copy and restore it from a backup", streamID: fields.streamID, position: fields.position)
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

    /// The stored result of an idempotency key, rebuilt from the records it wrote, and the stored fingerprint.
    private func storedResult(forKey key: String, _ txn: borrowing WriteTransaction) throws
        -> (AppendResult, RequestFingerprint)?
    {
        try Self.lookUpStoredResult(forKey: key, txn, databases)
    }

    /// The stored result of an idempotency key in any transaction.
    ///
    /// - Throws: ``EventLogError/Code/corrupted`` when the key's entry is damaged or names records that do not carry
    ///   the key: answering "already appended" from it would tell the caller its events are stored when they are not.
    static func lookUpStoredResult(
        forKey key: String, _ txn: borrowing some ReadableTransaction & ~Copyable, _ databases: LMDBEventLog.Databases
    ) throws -> (AppendResult, RequestFingerprint)? {
        guard let value = try txn.value(databases.idempotency, key: Array(key.utf8)) else { return nil }
        func damaged(_ what: String) -> EventLogError {
            EventLogError(
                code: .corrupted,
                message: "the idempotency entry of key \"\(key)\" \(what): the store is damaged; run verify on a copy "
                    + "and restore it from a backup")
        }
        guard value.count == 48 else { throw damaged("has \(value.count) bytes instead of 48") }
        let (first, last) = value.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        guard first >= 1, last >= first else { throw damaged("names the positions \(first)…\(last)") }
        var streams: [AppendResult.StreamResult] = []
        for position in first...last {
            let event = try LMDBEventLog.event(at: position, txn, databases)
            guard event.idempotencyKey == key else {
                throw damaged("names position \(position), whose record does not carry the key")
            }
            let id = event.streamID
            if let index = streams.firstIndex(where: { $0.streamID.utf8.elementsEqual(id.utf8) }) {
                streams[index].lastVersion = event.streamVersion
            } else {
                streams.append(.init(streamID: id, firstVersion: event.streamVersion, lastVersion: event.streamVersion))
            }
        }
        return (
            AppendResult(positions: first...last, streams: streams, wasDuplicate: true),
            RequestFingerprint(bytes: Array(value[16..<48]))
        )
    }

    /// The original result for a repeated key, or an error when the key was stored for a different request.
    static func duplicate(
        _ original: AppendResult, _ originalFingerprint: RequestFingerprint, for fingerprint: RequestFingerprint,
        key: String
    ) -> Result<AppendResult, EventLogError> {
        guard originalFingerprint == fingerprint else {
            return .failure(
                EventLogError(
                    code: .idempotencyKeyReused,
                    message: "idempotency key \"\(key)\" was stored for another request (\(original.positions.count) "
                        + "events of \(original.streams.map(\.streamID).joined(separator: ", "))); use a new key",
                    position: original.positions.lowerBound))
        }
        var result = original
        result.wasDuplicate = true
        return .success(result)
    }
}

/// SHA-256 over what makes two appends the same request: each stream id, and each event's type, schema version,
/// metadata and payload, in order (not the event ids, which a retry may generate anew, nor the actor or the ids of
/// correlation and causation). Stored beside an idempotency key, so a key reused for another request is refused.
struct RequestFingerprint: Equatable {
    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(_ request: AppendRequest) {
        var hasher = SHA256()
        func add(_ value: some Collection<UInt8>) {
            withUnsafeBytes(of: UInt64(value.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(value))
        }
        for stream in request.streams {
            add(stream.streamID.utf8)
            withUnsafeBytes(of: UInt64(stream.events.count).bigEndian) { hasher.update(bufferPointer: $0) }
            for event in stream.events {
                add(event.type.utf8)
                withUnsafeBytes(of: event.schemaVersion.bigEndian) { hasher.update(bufferPointer: $0) }
                add(event.metadata)
                add(event.payload)
            }
        }
        bytes = Array(hasher.finalize())
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
