import CaseLedger
import Testing
import _CaseLedgerTestSupport

@testable import CaseLedgerWorkflow

/// Workflow definitions as versioned data, validated on load, overridden per region from YAML.
@Suite struct DefinitionTests {
    @Test("Every built-in definition validates")
    func builtInsValidate() throws {
        let registry = try DefinitionRegistry.national()
        #expect(registry.all.count == BuiltInDefinitions.all.count)
        for kind in CaseKind.allCases {
            #expect(registry.inForce(kind: kind, on: County.date(2025, 6, 1)) != nil, "\(kind)")
        }
    }

    static func base() -> WorkflowDefinition {
        WorkflowDefinition(
            kind: .consultation, version: "t1", effectiveFrom: County.date(2024, 1, 1), initialState: "open",
            states: [StateSpec("open"), StateSpec("answered"), StateSpec("closed", terminal: true)],
            transitions: [
                TransitionSpec("answer", from: ["open"], to: "answered"),
                TransitionSpec("close", from: ["answered"], to: "closed"),
            ],
            deadlines: [])
    }

    @Test(
        "Validation names the problem",
        arguments: [
            ("an unreachable state", "cannot be reached"),
            ("no terminal state", "no terminal state"),
            ("a dead end", "can never reach a terminal state"),
            ("an unknown deadline rule", "unknown rule 'XX9'"),
            ("an unknown guard", "unknown guard"),
            ("an unknown state in a transition", "unknown state"),
            // A record header carries the state name and the clock id in at most 255 bytes each.
            ("a state name over 255 bytes", "a name over 255 bytes"),
            ("a clock id over 255 bytes", "over 255 bytes"),
        ])
    func validation(problem: String, expected: String) throws {
        var d = Self.base()
        switch problem {
        case "an unreachable state": d.states.append(StateSpec("limbo"))
        case "no terminal state": d.states[2].terminal = false
        case "a dead end":
            d.states.append(StateSpec("stuck"))
            d.transitions.append(TransitionSpec("park", from: ["open"], to: "stuck"))
        case "an unknown deadline rule":
            d.deadlines.append(DeadlineSpec("x", rule: "XX9", period: .days(3), startsOn: ["registered"]))
        case "an unknown guard": d.transitions[0].guards = ["magic"]
        case "a state name over 255 bytes":
            let long = String(repeating: "s", count: 256)
            d.states.append(StateSpec(long))
            d.transitions.append(TransitionSpec("park", from: ["open"], to: long))
            d.transitions.append(TransitionSpec("unpark", from: [long], to: "closed"))
        case "a clock id over 255 bytes":
            d.deadlines.append(
                DeadlineSpec(
                    String(repeating: "c", count: 256), rule: "PM13", period: .days(3), startsOn: ["registered"]))
        default: d.transitions[0].to = "nowhere"
        }
        #expect {
            try d.validate()
        } throws: { error in
            (error as? DefinitionError)?.problem.contains(expected) == true
        }
    }

    @Test("A state name and a clock id of 255 bytes, what a record header carries, validate")
    func namesOfHeaderLength() throws {
        var d = Self.base()
        let name = String(repeating: "s", count: 255)
        d.states.append(StateSpec(name))
        d.transitions.append(TransitionSpec("park", from: ["open"], to: name))
        d.transitions.append(TransitionSpec("unpark", from: [name], to: "closed"))
        d.deadlines.append(
            DeadlineSpec(String(repeating: "c", count: 255), rule: "PM13", period: .days(3), startsOn: ["registered"]))
        try d.validate()
    }

    @Test("A ladder that repeats a level (a cycle) or falls is refused")
    func ladderCycle() throws {
        var d = try #require(DefinitionRegistry.national().inForce(kind: .peopleMediation, on: County.date(2025, 1, 1)))
        d.ladder = [.village, .township, .village]
        #expect(throws: DefinitionError.self) { try d.validate() }
        d.ladder = [.township, .village]
        #expect(throws: DefinitionError.self) { try d.validate() }
    }

    static let overrideYAML = """
        region: "511124000000"
        version: "jy-2025.1"
        effectiveFrom: 2025-06-01
        kinds:
          peopleMediation:
            ladder: [village, township]
            deadlines:
              PM13.level:
                period: { amount: 45, unit: days }
            addStates:
              - name: intakeReview
                summary: the township office checks the file before mediation
            addTransitions:
              - command: sendToIntakeReview
                from: [awaitingMediation]
                to: intakeReview
                rules: [PM9]
              - command: completeIntakeReview
                from: [intakeReview]
                to: awaitingMediation
                rules: [PM9]
          legalAid:
            deadlines:
              LA6.decision:
                period: { amount: 7, unit: workingDays }
        """

    @Test("A region's YAML changes deadlines, the ladder and extra states; old cases keep the rules they began under")
    func regionalOverride() throws {
        let registry = try DefinitionRegistry.national().applying(yaml: Self.overrideYAML)
        var h = try makeHarness(at: County.at(2025, 5, 30))
        h.definitions = registry
        try h.mediating("before")
        h.now = County.at(2025, 6, 2)
        try h.mediating("after")
        #expect(h.state("before")?.definitionVersion == "cn-2024.1")
        #expect(h.state("after")?.definitionVersion == "cn-2024.1+jy-2025.1")
        // 45 days instead of one month.
        #expect(h.state("after")?.deadline("PM13.level")?.end.nominalLastDay == County.date(2025, 7, 17))
        #expect(h.state("before")?.deadline("PM13.level")?.end.nominalLastDay == County.date(2025, 6, 30))
        // Township is the top: nothing escalates to the county under the regional rules, but the old case may.
        try h.run(.markMajorOrComplex(reason: "many households"), on: "after", by: "m-v1")
        try h.run(.markMajorOrComplex(reason: "many households"), on: "before", by: "m-v1")
        expectRejected(.ruleViolation, rule: "PM12") {
            try h.run(
                .escalate(
                    Escalation(
                        toUnit: "centre", toPerson: "m-county", reason: .majorOrComplex,
                        consentingParties: County.bothParties)),
                on: "after", by: "m-v1")
        }
        try h.run(
            .escalate(
                Escalation(
                    toUnit: "centre", toPerson: "m-county", reason: .majorOrComplex,
                    consentingParties: County.bothParties)),
            on: "before", by: "m-v1")
        // The extra state works through custom commands.
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "x", by: "m-v1")
        try h.run(.custom(name: "sendToIntakeReview", note: "file incomplete"), on: "x", by: "m-v1")
        #expect(h.state("x")?.state == "intakeReview")
        expectRejected(.transitionNotAllowed) {
            try h.run(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: "x", by: "m-v1")
        }
        try h.run(.custom(name: "completeIntakeReview", note: "complete"), on: "x", by: "m-v1")
        #expect(h.state("x")?.state == "awaitingMediation")
        // Legal aid decisions count working days in this region.
        let aid = registry.inForce(kind: .legalAid, on: County.date(2025, 7, 1))
        #expect(aid?.deadline("LA6.decision")?.period == .workingDays(7))
        // Replaying each case uses its own version.
        for id: CaseID in ["before", "after", "x"] {
            let replayed = try CaseState.fold(id: id, records: h.histories[id] ?? [], definitions: registry)
            #expect(replayed == h.state(id))
        }
    }

    @Test("A bad override is refused with a clear error: unknown kind, unknown deadline rule, unreachable state")
    func badOverrides() throws {
        let national = try DefinitionRegistry.national()
        func problem(_ yaml: String) -> String? {
            do {
                _ = try national.applying(yaml: yaml)
                return nil
            } catch {
                return error.problem
            }
        }
        let head = "region: x\nversion: v\neffectiveFrom: 2025-01-01\nkinds:\n"
        #expect(problem(head + "  mediation: {}\n")?.contains("unknown case kind 'mediation'") == true)
        #expect(
            problem(
                head + "  legalAid:\n    deadlines:\n      LA99.decision:\n        period: {amount: 3, unit: days}\n")?
                .contains("unknown deadline rule 'LA99.decision'") == true)
        #expect(
            problem(head + "  legalAid:\n    addStates:\n      - name: limbo\n")?.contains("cannot be reached") == true)
        #expect(problem(head + "  peopleMediation:\n    ladder: [township, village]\n")?.contains("must rise") == true)
        // Out-of-range numbers are refused before any date arithmetic could overflow on them.
        #expect(
            problem(
                head
                    + "  legalAid:\n    deadlines:\n      LA6.decision:\n        period: {amount: 9223372036854775807, unit: days}\n"
            )?
            .contains("use 1 to 36500") == true)
        #expect(
            problem(
                head
                    + "  legalAid:\n    deadlines:\n      LA6.decision:\n        warnBefore: {amount: 9223372036854775807, unit: days}\n"
            )?
            .contains("use 0 to 3650") == true)
        #expect(problem("region: x\n")?.contains("does not decode") == true)
    }

    @Test("Replaying a case whose definition version is not loaded is a clear error")
    func missingVersion() throws {
        var h = try makeHarness()
        try h.mediating("c1")
        var d = try #require(DefinitionRegistry.national().inForce(kind: .labourMediation, on: County.date(2025, 1, 1)))
        d.version = "other"
        let registry = try DefinitionRegistry([d])
        #expect {
            _ = try CaseState.fold(id: "c1", records: h.histories["c1"] ?? [], definitions: registry)
        } throws: { error in
            (error as? WorkflowError)?.code == .noDefinition
        }
    }
}

@Suite struct BuiltInCommandListTests {
    @Test("Every command a built-in definition names is on the list an override may not reuse")
    func builtInCommandsAreComplete() throws {
        let named = Set(try DefinitionRegistry.national().all.flatMap { $0.transitions.map(\.command) })
        #expect(
            named.isSubset(of: Decider.builtInCommands),
            "missing: \(named.subtracting(Decider.builtInCommands).sorted())")
        let yaml = """
            region: x
            version: v
            effectiveFrom: 2025-01-01
            kinds:
              legalAid:
                addTransitions:
                  - {command: approveAid, from: [applied], to: closed}
            """
        #expect(throws: DefinitionError.self) { _ = try DefinitionRegistry.national().applying(yaml: yaml) }
    }
}
