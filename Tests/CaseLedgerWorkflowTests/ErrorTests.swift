import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// Requirement 12: each kind of rejection has its own error, names the case, and writes nothing.
@Suite struct ErrorTests {
    @Test("Unknown case, wrong kind, missing field, no authority, unknown unit: each its own error")
    func distinctErrors() throws {
        var h = try makeHarness()
        expectRejected(.unknownCase) {
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "nope", by: "m-v1")
        }
        try h.mediating("c1")
        let before = h.histories["c1"]
        let wrongKind = expectRejected(.wrongKind) { try h.run(.approveAid, on: "c1", by: "m-v1") }
        #expect(wrongKind?.message.contains("peopleMediation") == true)
        #expect(wrongKind?.caseID == "c1")
        expectRejected(.missingField, rule: "PM10") {
            try h.run(.reachAgreement(form: .oral, terms: ""), on: "c1", by: "m-v1")
        }
        let noAuthority = expectRejected(.notAuthorized) {
            try h.run(.reachAgreement(form: .oral, terms: "x"), on: "c1", by: "outsider")
        }
        #expect(noAuthority?.message.contains("v1") == true)
        expectRejected(.unknownPerson) { try h.run(.reachAgreement(form: .oral, terms: "x"), on: "c1", by: "ghost") }
        expectRejected(.unknownUnit) {
            try h.run(.handOff(toUnit: "nowhere", toPerson: "m-v1", reason: "x"), on: "c1", by: "m-v1")
        }
        expectRejected(.transitionNotAllowed, rule: "PM11") {
            try h.run(.applyJudicialConfirmation(applicants: County.bothParties, court: "c"), on: "c1", by: "m-v1")
        }
        expectRejected(.caseExists) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c1", by: "m-v1")
        }
        expectRejected(.notAuthorized) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v2")), on: "c2", by: "m-v1")
        }
        expectRejected(.notAuthorized) {
            try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "c2", by: "m-v2")
        }
        #expect(h.histories["c1"] == before)
        #expect(h.state("c2") == nil)
    }

    @Test("A deadline past the calendar is an explicit error naming the rule, and the command writes nothing")
    func calendarNotCovered() throws {
        var h = try makeHarness(at: County.at(2026, 12, 28))
        let error = expectRejected(.calendarNotCovered, rule: "LA6") {
            try h.run(
                .register(
                    County.registration(
                        .legalAid, unit: "aid", owner: "aid-staff", legalAid: LegalAidApplication(matter: .labour))),
                on: "a1", by: "aid-staff")
        }
        #expect(error?.message.contains("2027") == true)
        #expect(h.state("a1") == nil)
    }

    @Test("Division codes: 12 digits, levels from trailing zero groups, parents and containment")
    func divisionCodes() throws {
        let village = try #require(DivisionCode("511124101001"))
        #expect(village.level == .village)
        #expect(village.parent == County.township1)
        #expect(village.ancestor(at: .county) == County.county)
        #expect(village.ancestor(at: .city) == County.city)
        #expect(County.county.contains(village))
        #expect(!County.township2.contains(village))
        #expect(DivisionCode("51112410100") == nil)
        #expect(DivisionCode("511124000001") == nil)  // a village under no township
        #expect(DivisionCode("00112400000a") == nil)
    }
}
