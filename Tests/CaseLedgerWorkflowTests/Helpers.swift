import CaseLedger
import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// A harness on the national definitions and the shipped calendar, at 09:00 on Monday 2025-03-03.
func makeHarness(at now: Instant = County.at(2025, 3, 3)) throws -> WorkflowHarness {
    WorkflowHarness(
        now: now, calendar: try HolidayCalendar.chinaMainland(), definitions: try DefinitionRegistry.national())
}

/// Expects `body` to fail with a `WorkflowError` of `code` (and `rule`, when given) and returns it.
@discardableResult
func expectRejected(
    _ code: WorkflowError.Code, rule: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> WorkflowError? {
    do {
        try body()
        Issue.record(
            "expected \(code)\(rule.map { " [\($0)]" } ?? ""), but the command was accepted",
            sourceLocation: sourceLocation)
        return nil
    } catch let error as WorkflowError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let rule { #expect(error.rule == rule, "\(error)", sourceLocation: sourceLocation) }
        return error
    } catch {
        Issue.record("expected a WorkflowError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension WorkflowHarness {
    /// Registers a mediation case at village 1 and starts mediation with m-v1.
    mutating func mediating(_ id: CaseID, kind: CaseKind = .peopleMediation, dispute: DisputeType = .neighbour)
        throws(WorkflowError)
    {
        try run(.register(County.registration(kind, unit: "v1", owner: "m-v1", dispute: dispute)), on: id, by: "m-v1")
        try run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
    }

    /// Mediation failed at village 1 with a rights notice suggesting `route`.
    mutating func failed(_ id: CaseID, dispute: DisputeType = .neighbour, route: Route = .civilLitigation)
        throws(WorkflowError)
    {
        try mediating(id, dispute: dispute)
        try run(
            .declareFailure(rightsNotice: "told of arbitration, review and court", suggestedRoute: route), on: id,
            by: "m-v1")
    }

    func events(_ id: CaseID) -> [String] { histories[id]?.map(\.event.name) ?? [] }
}
