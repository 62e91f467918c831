import CaseLedgerWorkflow
import Foundation
import Testing

/// Requirement 13: every rule id the engine enforces has a test named after it.
@Suite struct RuleCoverageTests {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let workflowSources = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/CaseLedgerWorkflow")

    static func swiftFiles(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }.sorted()
            .map { try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) }
    }

    /// Rule ids named by the built-in definitions and by the checks in the decider's code.
    static func enforcedRules() throws -> Set<String> {
        var rules = Set<String>()
        for definition in try DefinitionRegistry.national().all {
            for t in definition.transitions { rules.formUnion(t.rules) }
            for d in definition.deadlines { rules.insert(d.rule) }
        }
        for source in try swiftFiles(in: workflowSources) {
            for match in source.matches(of: /(?:rule: |violation\(|refuse\()"([A-Z]+[0-9]*)"/) {
                rules.insert(String(match.output.1))
            }
        }
        return rules
    }

    /// Rule ids that lead a test's display name: the part before its first colon.
    static func testedRules() throws -> Set<String> {
        var rules = Set<String>()
        for source in try swiftFiles(in: testsDirectory) {
            for match in source.matches(of: /@Test\(\s*"([^"]*)"/) {
                let lead = match.output.1.split(separator: ":", maxSplits: 1).first ?? ""
                for id in lead.matches(of: /[A-Z]{2,}[0-9]*/) { rules.insert(String(id.output)) }
            }
        }
        return rules
    }

    @Test("Every rule the engine enforces has a test named after it")
    func everyEnforcedRuleHasANamedTest() throws {
        let enforced = try Self.enforcedRules()
        #expect(enforced.count >= 35, "found only \(enforced.sorted())")
        #expect(enforced.isSubset(of: RuleCatalog.all.union(["ROUTING", "EVAL"])))
        let missing = enforced.subtracting(try Self.testedRules())
        #expect(missing.isEmpty, "rules without a test named after them: \(missing.sorted())")
    }
}
