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

extension Directory {
    /// Loads the units and people of a deployment from YAML: `units` (id, name, kind, division, optional level) and
    /// `persons` (id, name, roles, units).
    ///
    /// ```yaml
    /// units:
    ///   - {id: v1, name: 石板村人民调解委员会, kind: mediationCommittee, division: "511124101001"}
    /// persons:
    ///   - {id: m-0042, name: 王调解, roles: [mediator, staff], units: [v1]}
    /// ```
    ///
    /// - Throws: ``DirectoryError`` naming what does not decode, a unit or person listed twice, or a person of an
    ///   unknown unit.
    public init(yaml: String) throws(DirectoryError) {
        struct File: Decodable {
            var units: [ServiceUnit]
            var persons: [Person]
        }
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: yaml)
        } catch {
            throw DirectoryError(problem: "the directory YAML does not decode: \(error)")
        }
        var unitIDs = Set<UnitID>()
        for unit in file.units where !unitIDs.insert(unit.id).inserted {
            throw DirectoryError(problem: "unit '\(unit.id)' is listed twice")
        }
        var personIDs = Set<PersonID>()
        for person in file.persons {
            guard personIDs.insert(person.id).inserted else {
                throw DirectoryError(problem: "person '\(person.id)' is listed twice")
            }
            if let unknown = person.units.sorted().first(where: { !unitIDs.contains($0) }) {
                throw DirectoryError(problem: "person '\(person.id)' belongs to unknown unit '\(unknown)'")
            }
        }
        self.init(units: file.units, persons: file.persons)
    }
}

/// A directory file that does not hold together.
public struct DirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problem: String
    public var description: String { "DirectoryError: \(problem)" }
}
