import CaseLedger
import CaseLedgerLog
import CaseLedgerWorkflow
import Logging
import Testing
import _CaseLedgerTestSupport

/// The calls of the README's workflow example, with a temporary store and a fixed clock, so the example stays true.
@Suite struct ReadmeWorkflowExampleTests {
    @Test func theWorkflowExampleRuns() async throws {
        try await withTemporaryDirectory { directory in
            let log = try LMDBEventLog.open(at: directory.appending("jingyan"))
            defer { log.close() }
            var printed: [String] = []
            // --- README example; the clock is fixed here so the test does not depend on today's date ---
            guard let village = DivisionCode("511124101001") else {
                throw WorkflowError(.invalidField, case: nil, "bad code")
            }
            var directory = Directory()
            directory.add(ServiceUnit(id: "v1", name: "石板村人民调解委员会", kind: .mediationCommittee, division: village))
            directory.add(Person(id: "m-0042", name: "王调解", roles: [.mediator, .staff], units: ["v1"]))
            let engine = CaseEngine(
                log: log,
                configuration: .init(
                    directory: directory, calendar: try .chinaMainland(), definitions: try .national()),
                clock: ManualClock(Timestamp(County.at(2026, 11, 23))),
                logger: Logger(label: "caseledger"))
            let parties = [
                Party(reference: "p-1", name: "张三", role: .applicant),
                Party(reference: "p-2", name: "李四", role: .respondent),
            ]
            try await engine.execute(
                .register(
                    Registration(
                        kind: .peopleMediation, channel: .hotline12348, unit: "v1", owner: "m-0042",
                        division: village, parties: parties, disputeType: .neighbour, summary: "院墙渗水")),
                on: "2026-000124", by: "m-0042")
            try await engine.execute(.refuseMediation(party: "p-2"), on: "2026-000124", by: "m-0042")
            do {
                try await engine.execute(
                    .startMediation(mediators: ["m-0042"], chosenByParties: false), on: "2026-000124", by: "m-0042")
            } catch {
                printed.append("\(error)")
            }
            try await engine.tick()
            // --- end of the example ---
            #expect(printed.count == 1)
            #expect(
                printed.first?.hasPrefix("WorkflowError.ruleViolation [PM4] case 2026-000124: party 'p-2' refused")
                    == true)
            #expect(try log.version(ofStream: "case-2026-000124") == 3)
        }
    }
}
