/// Every loaded workflow definition, by kind and version. New cases take the version in force on their
/// registration date; existing cases keep theirs, so old versions stay loaded.
public struct DefinitionRegistry: Sendable, Hashable {
    private var byKind: [CaseKind: [WorkflowDefinition]]

    /// Loads and validates definitions.
    ///
    /// - Throws: ``DefinitionError`` for an invalid definition or a kind and version loaded twice.
    public init(_ definitions: [WorkflowDefinition]) throws(DefinitionError) {
        byKind = [:]
        for definition in definitions { try add(definition) }
    }

    /// The built-in national definitions.
    public static func national() throws(DefinitionError) -> DefinitionRegistry {
        try DefinitionRegistry(BuiltInDefinitions.all)
    }

    /// Adds one definition after validating it.
    public mutating func add(_ definition: WorkflowDefinition) throws(DefinitionError) {
        try definition.validate()
        if self.definition(kind: definition.kind, version: definition.version) != nil {
            throw DefinitionError(
                kind: definition.kind, version: definition.version, problem: "this version is loaded already")
        }
        byKind[definition.kind, default: []].append(definition)
    }

    /// Every definition, kind by kind, in load order.
    public var all: [WorkflowDefinition] {
        CaseKind.allCases.flatMap { byKind[$0] ?? [] }
    }

    /// The definition a case registered on `date` uses: the latest `effectiveFrom` on or before the date; of
    /// equal dates, the one loaded last (a regional override over its base).
    public func inForce(kind: CaseKind, on date: CivilDate) -> WorkflowDefinition? {
        var best: WorkflowDefinition?
        for candidate in byKind[kind] ?? [] where candidate.effectiveFrom <= date {
            if best.map({ candidate.effectiveFrom >= $0.effectiveFrom }) ?? true { best = candidate }
        }
        return best
    }

    /// A definition by kind and version.
    public func definition(kind: CaseKind, version: String) -> WorkflowDefinition? {
        byKind[kind]?.first { $0.version == version }
    }

    /// This registry with a region's override added: for each overridden kind, a new version per base version
    /// (named `<base>+<override version>`), in force from the later of the two dates until the next base version.
    /// Base versions stay loaded for the cases registered under them.
    ///
    /// - Throws: ``DefinitionError`` naming the first problem: an unknown kind, deadline, state or guard, an
    ///   unreachable state, a ladder that does not rise.
    public func applying(_ override: RegionOverride) throws(DefinitionError) -> DefinitionRegistry {
        var result = self
        for (kindName, change) in override.kinds.sorted(by: { $0.key < $1.key }) {
            guard let kind = CaseKind(rawValue: kindName) else {
                throw DefinitionError(
                    kind: .peopleMediation, version: override.version,
                    problem: "unknown case kind '\(kindName)'; use one of "
                        + CaseKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let bases = (byKind[kind] ?? []).filter { !$0.version.contains("+") }
                .sorted { $0.effectiveFrom < $1.effectiveFrom }
            for (index, base) in bases.enumerated() {
                let from = max(base.effectiveFrom, override.effectiveFrom)
                if index + 1 < bases.count, from >= bases[index + 1].effectiveFrom { continue }
                var d = base
                d.version = "\(base.version)+\(override.version)"
                d.effectiveFrom = from
                try change.apply(to: &d, region: override.region)
                try result.add(d)
            }
        }
        return result
    }
}

/// A region's changes to the national definitions, loaded from YAML (see `Docs/Workflow.md`).
public struct RegionOverride: Sendable, Hashable, Codable {
    /// The region's division code or name, for the record.
    public var region: String
    /// The override's version, appended to each base version (`cn-2024.1+hz-2025.1`).
    public var version: String
    /// From when new cases use it.
    public var effectiveFrom: CivilDate
    /// Changes by case kind (`peopleMediation`, `legalAid`, …).
    public var kinds: [String: KindOverride]

    public init(region: String, version: String, effectiveFrom: CivilDate, kinds: [String: KindOverride]) {
        self.region = region
        self.version = version
        self.effectiveFrom = effectiveFrom
        self.kinds = kinds
    }
}

/// The changes to one kind.
public struct KindOverride: Sendable, Hashable, Codable {
    /// A new escalation ladder (mediation only), bottom up.
    public var ladder: [Level]?
    /// Changed clocks, by deadline id (e.g. `PM13.level`).
    public var deadlines: [String: DeadlineOverride]?
    /// Extra states.
    public var addStates: [StateSpec]?
    /// Extra transitions (to and from the extra states; their commands are sent as `custom`).
    public var addTransitions: [TransitionSpec]?

    public init(
        ladder: [Level]? = nil, deadlines: [String: DeadlineOverride]? = nil, addStates: [StateSpec]? = nil,
        addTransitions: [TransitionSpec]? = nil
    ) {
        self.ladder = ladder
        self.deadlines = deadlines
        self.addStates = addStates
        self.addTransitions = addTransitions
    }

    func apply(to d: inout WorkflowDefinition, region: String) throws(DefinitionError) {
        if let ladder {
            guard d.kind.isMediation else {
                throw DefinitionError(kind: d.kind, version: d.version, problem: "only mediation has a ladder")
            }
            d.ladder = ladder
        }
        for (id, change) in (deadlines ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let index = d.deadlines.firstIndex(where: { $0.id == id }) else {
                throw DefinitionError(
                    kind: d.kind, version: d.version,
                    problem: "unknown deadline rule '\(id)'; this kind has "
                        + d.deadlines.map(\.id).joined(separator: ", "))
            }
            if let period = change.period { d.deadlines[index].period = period }
            if let warn = change.warnBefore { d.deadlines[index].warnBefore = warn.amount > 0 ? warn : nil }
            if let extensions = change.extensions { d.deadlines[index].extensions = extensions }
        }
        d.states += addStates ?? []
        for transition in addTransitions ?? [] {
            if Decider.builtInCommands.contains(transition.command) {
                throw DefinitionError(
                    kind: d.kind, version: d.version,
                    problem: "extra transition '\(transition.command)' reuses a built-in command name; name it anew")
            }
            d.transitions.append(transition)
        }
        d.notes.append("Regional override \(region).")
    }
}

/// A change to one clock.
public struct DeadlineOverride: Sendable, Hashable, Codable {
    public var period: Period?
    /// `amount: 0` removes the warning.
    public var warnBefore: Period?
    public var extensions: ExtensionSpec?

    public init(period: Period? = nil, warnBefore: Period? = nil, extensions: ExtensionSpec? = nil) {
        self.period = period
        self.warnBefore = warnBefore
        self.extensions = extensions
    }
}

extension StateSpec {
    enum CodingKeys: String, CodingKey { case name, terminal, summary }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try c.decode(String.self, forKey: .name),
            terminal: try c.decodeIfPresent(Bool.self, forKey: .terminal) ?? false,
            summary: try c.decodeIfPresent(String.self, forKey: .summary) ?? "")
    }
}

extension ExtensionSpec {
    enum CodingKeys: String, CodingKey { case maximum, times, requiresApprover, requiresNotice, requiresConsent }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            maximum: try c.decode(Period.self, forKey: .maximum),
            times: try c.decodeIfPresent(Int.self, forKey: .times),
            requiresApprover: try c.decodeIfPresent(Bool.self, forKey: .requiresApprover) ?? false,
            requiresNotice: try c.decodeIfPresent(Bool.self, forKey: .requiresNotice) ?? false,
            requiresConsent: try c.decodeIfPresent(Bool.self, forKey: .requiresConsent) ?? false)
    }
}
