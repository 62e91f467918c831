import CaseLedger
import CaseLedgerLog
import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

@testable import CaseLedgerProjections

/// The bulk rebuild reads each event's header in place (`HeaderSpan`) instead of decoding it (`RecordHeader`): it
/// must accept only what the decoder accepts, and read the same fields.
@Suite struct HeaderSpanTests {
    /// Every header of a county's cases, each cut short at every third byte and with each byte changed: whatever the in-place reader accepts (with a valid division, which the bulk path checks once per
    /// division), the decoder accepts too, with the same fields.
    @Test func theInPlaceReaderAcceptsOnlyWhatTheDecoderReadsAndReadsItAlike() async throws {
        try await withTemporaryLog { log, _ in
            try await BuiltInViewTests.county(try BuiltInViewTests.engine(log))
            let events = try log.read(from: 1, direction: .forwards, limit: 10_000)
            var accepted = 0
            var refused = 0
            for event in events {
                let original = Array(event.metadata)
                var variants = [original]
                for cut in stride(from: 0, to: original.count, by: 3) { variants.append(Array(original.prefix(cut))) }
                for index in original.indices {
                    // Every value in the fixed fields' first bytes (each enum's last case and the one past it);
                    // elsewhere the bytes around the original and a few others (lengths, counts, tags).
                    let values: [UInt8] =
                        index < 7
                        ? Array(0...255) : [0, 1, 2, 4, 255, original[index] &+ 1, original[index] &- 1]
                    for value in values {
                        var changed = original
                        changed[index] = value
                        variants.append(changed)
                    }
                }
                for bytes in variants {
                    guard let span = bytes.withUnsafeBytes({ HeaderSpan($0) }),
                        DivisionCode(String(decoding: bytes[HeaderSpan.division], as: UTF8.self)) != nil
                    else {
                        refused += 1
                        continue
                    }
                    accepted += 1
                    let header = try #require(RecordHeader(bytes: bytes), "the reader accepted \(bytes)")
                    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
                    #expect(span.kind == header.kind.byteIndex && span.level == header.level.byteIndex)
                    #expect(
                        span.channel == header.channel.byteIndex && span.disputeType == header.disputeType.byteIndex)
                    #expect(span.closed == header.closed && span.window == header.window)
                    #expect(span.hasLinks == header.hasLinks && span.rating == header.rating)
                    #expect(span.at == header.at.microsecondsSinceEpoch)
                    #expect(span.due == (header.due?.microsecondsSinceEpoch ?? 0))
                    #expect(text(span.state) == header.state && text(span.unit) == header.unit.rawValue)
                    #expect(text(span.owner) == header.owner.rawValue && text(span.deadline) == header.deadline)
                    #expect((span.parties?.count ?? 0) == header.parties.count)
                    #expect((span.people?.count ?? 0) == header.people.count)
                    #expect(span.links?.count == header.links?.count)
                    #expect(span.route == header.route?.byteIndex)
                    #expect(span.reviewOutcome == header.reviewOutcome?.byteIndex)
                }
            }
            // Both sides were exercised: the originals and some changed copies are read, many others refused.
            #expect(accepted > events.count && refused > events.count, "accepted \(accepted), refused \(refused)")
        }
    }
}
