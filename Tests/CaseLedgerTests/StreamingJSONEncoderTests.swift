import CaseLedger
import CaseLedgerWorkflow
import Foundation
import Testing
import _CaseLedgerTestSupport

/// The engine's streaming JSON encoder writes what `JSONDecoder` reads back to the same value.
@Suite struct StreamingJSONEncoderTests {
    struct Sample: Codable, Equatable {
        var text: String
        var number: Int64
        var small: UInt8
        var flag: Bool
        var ratio: Double
        var missing: String?
        var present: Int?
        var list: [String]
        var nested: [[Int]]
        var map: [String: Int]
        var empty: [Int]
    }

    @Test func scalarsEscapesAndNestingRoundTrip() throws {
        let sample = Sample(
            text: "引号\"反斜杠\\换行\n制表\t控制\u{01}", number: -9_007_199_254_740_993, small: 255, flag: true, ratio: 0.1,
            missing: nil, present: 7, list: ["a", "", "调解"], nested: [[1, 2], [], [3]], map: ["k": 1], empty: [])
        let bytes = try StreamingJSONEncoder().encode(sample)
        #expect(try JSONDecoder().decode(Sample.self, from: Data(bytes)) == sample)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("missing"))
        #expect(try StreamingJSONEncoder().encode(sample) == bytes)  // the same bytes every time
        #expect(throws: EncodingError.self) {
            _ = try StreamingJSONEncoder().encode(
                Sample(
                    text: "", number: 0, small: 0, flag: false, ratio: .nan, missing: nil, present: nil, list: [],
                    nested: [], map: [:], empty: []))
        }
    }

    @Test func everyWorkflowRecordOfARichHistoryRoundTrips() throws {
        // The property tests' generator reaches every mediation path; legal aid, review and arbitration records come
        // from the rule tests' flows, replayed here through the engine's encoder.
        var h = WorkflowHarness(
            now: County.at(2025, 3, 3), calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        try h.run(
            .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1", dispute: .labour)), on: "m",
            by: "m-v1")
        try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: true), on: "m", by: "m-v1")
        try h.run(.reachAgreement(form: .written, terms: "付款\"五千\""), on: "m", by: "m-v1")
        for signer: Signer in [.party("p-a"), .party("p-b"), .mediator("m-v1"), .committeeSeal] {
            try h.run(.signAgreement(signer), on: "m", by: "m-v1")
        }
        try h.run(
            .register(
                County.registration(
                    .administrativeReview, unit: "review", owner: "review-officer", dispute: .administrativeAct,
                    review: ReviewApplication(
                        actReference: "act", respondent: "r", actDate: County.date(2025, 2, 1),
                        knownOn: County.date(2025, 2, 1)))),
            on: "r", by: "review-officer")
        try h.run(.acceptReview(procedure: .simplified), on: "r", by: "review-officer")
        try h.run(.decideReview(.changed), on: "r", by: "review-officer")
        try h.run(
            .register(County.registration(.labourArbitration, unit: "labour", owner: "labour-clerk", dispute: .labour)),
            on: "l", by: "labour-clerk")
        try h.run(.acceptArbitration, on: "l", by: "labour-clerk")
        try h.run(.recordArbitralMediation(succeeded: false, statement: ""), on: "l", by: "labour-clerk")
        try h.run(
            .issueAward(
                Award(
                    items: [AwardItem(amountYuan: 3_000), AwardItem(amountYuan: nil, labourStandards: true)],
                    monthlyMinimumWageYuan: 2_000, summary: "s")), on: "l", by: "labour-clerk")
        var count = 0
        for records in h.histories.values {
            for record in records {
                let bytes = try StreamingJSONEncoder().encode(record)
                #expect(try JSONDecoder().decode(WorkflowRecord.self, from: Data(bytes)) == record)
                count += 1
            }
        }
        #expect(count > 20)
    }
}
