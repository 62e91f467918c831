internal import CaseLedgerLMDB

extension LMDBEventLog {
    /// Walks the whole log and reports the first failing position.
    ///
    /// Checked for every record: its key is the next position; SHA-256 over the previous chain hash and its bytes
    /// equals its stored chain hash; it decodes (layout, lengths, UTF-8) and its position field equals its key; its
    /// time is not before its predecessor's; the stream index maps its stream and version to its position; its
    /// version is 1 or follows the stream's previous version at an earlier position. Then: the recorded head equals
    /// the last record, and the stream index has exactly one entry per record.
    ///
    /// The walk reads in chunks of `chunkSize` records, each in its own read transaction, so a long verification
    /// never pins old pages or holds up a map resize for long; the log is append-only, so the chunks join up. The
    /// final checks (head, index size) run in the transaction that reaches the end of the log, against what that
    /// transaction sees. Runs on read-only stores and alongside appends. Memory stays constant; time is linear.
    ///
    /// - Important: LMDB trusts the page structure of its file. A page damaged on disk (zeroed, or with broken
    ///   flags) can make LMDB abort the process while this walk reads it, rather than return an error. Verify a file
    ///   that may be damaged at that level in a separate process, as `caseledger verify` does, so the damage is
    ///   reported instead of ending the service.
    public func verify() throws(EventLogError) -> VerificationReport {
        try verify(chunkSize: 65_536)
    }

    func verify(chunkSize: Int) throws(EventLogError) -> VerificationReport {
        var walker = ChainWalker(databases: databases)
        while true {
            let report = try reading("verifying the log") { txn -> VerificationReport? in
                let head = try Self.readHead(txn, databases)
                var walked = 0
                // Every entry of `events` is met: the first chunk starts at the table's first key, and each later
                // one at the last key checked, so a key before position 1 or between two positions fails the
                // position check instead of being stepped over.
                let resume = walker.checked > 0 ? Keys.position(walker.checked) : nil
                var skipResumeKey = resume != nil
                try txn.withCursor(databases.events) { cursor in
                    try (resume ?? []).withUnsafeBytes { last in
                        try cursor.walk(
                            from: resume == nil ? .first : .atOrAfter, key: resume == nil ? nil : last, then: .next
                        ) { key, value in
                            if skipResumeKey {
                                skipResumeKey = false
                                if key.elementsEqual(last) { return true }  // checked in the chunk before
                            }
                            walked += 1
                            return try walker.check(key: key, value: value, txn) && walked < chunkSize
                        }
                    }
                }
                var report = VerificationReport(
                    eventsChecked: walker.checked, streamsChecked: walker.streams, head: head, failure: walker.failure)
                if report.failure != nil { return report }
                if walked == chunkSize { return nil }  // more to walk, in a fresh transaction

                if head.position != walker.checked || head.chainHash != walker.previousHash {
                    report.failure = VerificationFailure(
                        position: min(head.position, walker.checked) + 1, kind: .head,
                        message: "the recorded head is position \(head.position) but the log ends at "
                            + "\(walker.checked) with another hash: events were removed from or added past the end")
                    return report
                }
                let indexed = try txn.count(databases.streams)
                if UInt64(indexed) != walker.checked {
                    report.failure = try extraIndexEntry(txn, expected: walker.checked, indexed: indexed)
                }
                return report
            }
            if let report { return report }
        }
    }

    /// The first index entry that does not name a record with its stream and version.
    private func extraIndexEntry(_ txn: borrowing ReadTransaction, expected: UInt64, indexed: Int) throws
        -> VerificationFailure
    {
        let found = try txn.withCursor(databases.streams) { cursor -> VerificationFailure? in
            var result: VerificationFailure?
            var more = try cursor.move(.first) { key, value in
                result = try self.checkIndexEntry(key: key, value: value, txn)
                return true
            }
            while more == true && result == nil {
                more = try cursor.move(.next) { key, value in
                    result = try self.checkIndexEntry(key: key, value: value, txn)
                    return true
                }
            }
            return result
        }
        return found
            ?? VerificationFailure(
                position: expected, kind: .streamIndex,
                message: "the stream index has \(indexed) entries for \(expected) events")
    }

    private func checkIndexEntry(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, _ txn: borrowing ReadTransaction
    ) throws -> VerificationFailure? {
        guard let (streamID, version) = Keys.decodeStream(key), let position = Keys.decodePosition(value) else {
            return VerificationFailure(
                position: Keys.decodePosition(value) ?? 0, kind: .streamIndex,
                message: "the stream index holds a malformed entry")
        }
        let matches = try Keys.position(position).withUnsafeBytes { positionKey in
            try txn.withValue(databases.events, key: positionKey) { record -> Bool in
                guard let record, let event = try? RecordCodec.decode(record) else { return false }
                return event.streamID == streamID && event.streamVersion == version
            }
        }
        guard matches else {
            return VerificationFailure(
                position: position, kind: .streamIndex,
                message: "the stream index entry \(streamID)@\(version) names position \(position), which holds "
                    + "another event")
        }
        return nil
    }
}

/// The per-record checks of ``LMDBEventLog/verify()``, carried along the events cursor.
private struct ChainWalker {
    let databases: LMDBEventLog.Databases
    var expectedPosition: UInt64 = 1
    var previousHash = ChainHash.zero
    var previousTime = Int64.min
    var checked: UInt64 = 0
    var streams: UInt64 = 0
    var failure: VerificationFailure?

    init(databases: LMDBEventLog.Databases) {
        self.databases = databases
    }

    /// Checks one record; returns whether the walk should go on.
    mutating func check(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, _ txn: borrowing ReadTransaction
    ) throws -> Bool {
        let position = expectedPosition
        guard let keyPosition = Keys.decodePosition(key), keyPosition == position else {
            let found = Keys.decodePosition(key).map(String.init) ?? "a malformed key"
            return fail(position, .positionSequence, "expected position \(position), found \(found)")
        }
        guard value.count > RecordCodec.hashSize else {
            return fail(position, .decoding, "the record has \(value.count) bytes, too few to hold its hash")
        }
        let bodyEnd = value.count - RecordCodec.hashSize
        let computed = RecordCodec.chainHash(
            previous: previousHash, body: UnsafeRawBufferPointer(rebasing: value[0..<bodyEnd]))
        let stored = ChainHash(UnsafeRawBufferPointer(rebasing: value[bodyEnd...]))
        guard stored == computed else {
            return fail(
                position, .chainHash,
                "SHA-256 over the previous hash and the record's bytes does not match the stored chain hash: the "
                    + "record or its hash was changed")
        }
        let event: RecordedEvent
        do {
            event = try RecordCodec.decode(value)
        } catch {
            return fail(position, .decoding, error.reason)
        }
        // (decode copies the record once; verification is linear and not on a hot path)
        guard event.position == position else {
            return fail(position, .positionSequence, "the record's position field says \(event.position)")
        }
        guard event.recordedAt.microsecondsSinceEpoch >= previousTime else {
            return fail(position, .timeOrder, "recorded at \(event.recordedAt), before the previous event")
        }
        let indexed = try txn.value(databases.streams, key: Keys.stream(event.streamID, version: event.streamVersion))
        guard let indexed, indexed.withUnsafeBytes({ Keys.decodePosition($0) }) == position else {
            return fail(
                position, .streamIndex,
                "the stream index does not map \(event.streamID)@\(event.streamVersion) to this position")
        }
        if event.streamVersion == 0 {
            return fail(position, .versionSequence, "\(event.streamID) has version 0; versions start at 1")
        } else if event.streamVersion == 1 {
            streams += 1
        } else {
            let previous = try txn.value(
                databases.streams, key: Keys.stream(event.streamID, version: event.streamVersion - 1))
            guard let previous, let previousPosition = previous.withUnsafeBytes({ Keys.decodePosition($0) }),
                previousPosition < position
            else {
                return fail(
                    position, .versionSequence,
                    "version \(event.streamVersion) of \(event.streamID) does not follow version "
                        + "\(event.streamVersion - 1) at an earlier position")
            }
        }
        previousHash = computed
        previousTime = event.recordedAt.microsecondsSinceEpoch
        expectedPosition += 1
        checked += 1
        return true
    }

    private mutating func fail(_ position: UInt64, _ kind: VerificationFailure.Kind, _ message: String) -> Bool {
        failure = VerificationFailure(position: position, kind: kind, message: message)
        return false
    }
}
