public import CaseLedgerWorkflow
import Foundation
import Yams

extension HolidayCalendar {
    /// The calendar CaseLedger ships: mainland China, 2024–2026, from the State Council notices
    /// 国办发明电〔2023〕7号, 〔2024〕12号 and 〔2025〕7号.
    ///
    /// - Throws: ``CalendarError`` only if the shipped data were damaged.
    public static func chinaMainland(
        weekendsRollForward: Bool = true, beyondCoverage: BeyondCoverage = .refuse
    ) throws(CalendarError) -> HolidayCalendar {
        try HolidayCalendar(
            yaml: chinaMainlandHolidaysYAML, weekendsRollForward: weekendsRollForward, beyondCoverage: beyondCoverage)
    }

    /// Loads a calendar from YAML in the shipped file's shape: a map from year to `rest_days`, `working_days`
    /// (ISO dates) and `notice`.
    ///
    /// - Throws: ``CalendarError`` with code `invalidData` naming what is wrong.
    public init(yaml: String, weekendsRollForward: Bool = true, beyondCoverage: BeyondCoverage = .refuse)
        throws(CalendarError)
    {
        let years: [Int: Year]
        do {
            years = try YAMLDecoder().decode([Int: Year].self, from: yaml)
        } catch {
            throw CalendarError(.invalidData, "the holiday calendar YAML does not decode: \(error)")
        }
        try self.init(years: years, weekendsRollForward: weekendsRollForward, beyondCoverage: beyondCoverage)
    }
}

extension RegionOverride {
    /// Parses a region's override file (see `Docs/Workflow.md`).
    ///
    /// - Throws: ``DefinitionError`` saying which key is wrong.
    public init(yaml: String) throws(DefinitionError) {
        do {
            self = try YAMLDecoder().decode(RegionOverride.self, from: yaml)
        } catch {
            throw DefinitionError(
                kind: .peopleMediation, version: "(override)", problem: "the override YAML does not decode: \(error)")
        }
    }
}

extension DefinitionRegistry {
    /// This registry with a region's YAML override applied (see ``DefinitionRegistry/applying(_:)``).
    public func applying(yaml: String) throws(DefinitionError) -> DefinitionRegistry {
        try applying(RegionOverride(yaml: yaml))
    }
}
