/// A state of a case kind's lifecycle.
public struct StateSpec: Sendable, Hashable, Codable {
    public var name: String
    /// A terminal state accepts only an evaluation.
    public var terminal: Bool
    public var summary: String

    public init(_ name: String, terminal: Bool = false, summary: String = "") {
        self.name = name
        self.terminal = terminal
        self.summary = summary
    }
}

/// A command allowed in some states, the state it leads to, and the rules it enforces.
public struct TransitionSpec: Sendable, Hashable, Codable {
    /// The command's name, e.g. `startMediation`.
    public var command: String
    /// The states the command is allowed in.
    public var from: [String]
    /// The state after the command; `nil` keeps the current state.
    public var to: String?
    /// Rule ids (legal-rules.md) the transition enforces.
    public var rules: [String]
    /// Named guards (see ``Guard``) checked before the command is accepted.
    public var guards: [String]
    /// Fields the command must carry (non-empty).
    public var requires: [String]

    public init(
        _ command: String, from: [String], to: String? = nil, rules: [String] = [], guards: [String] = [],
        requires: [String] = []
    ) {
        self.command = command
        self.from = from
        self.to = to
        self.rules = rules
        self.guards = guards
        self.requires = requires
    }

    enum CodingKeys: String, CodingKey { case command, from, to, rules, guards, requires }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decode(String.self, forKey: .command)
        from = try c.decode([String].self, forKey: .from)
        to = try c.decodeIfPresent(String.self, forKey: .to)
        rules = try c.decodeIfPresent([String].self, forKey: .rules) ?? []
        guards = try c.decodeIfPresent([String].self, forKey: .guards) ?? []
        requires = try c.decodeIfPresent([String].self, forKey: .requires) ?? []
    }
}

/// How an extension of a deadline is allowed.
public struct ExtensionSpec: Sendable, Hashable, Codable {
    /// The longest single extension.
    public var maximum: Period
    /// How many extensions are allowed (`nil`: any number).
    public var times: Int?
    /// An approver (the unit head) must be named.
    public var requiresApprover: Bool
    /// A written notice to the parties must be recorded.
    public var requiresNotice: Bool
    /// Every party must consent.
    public var requiresConsent: Bool

    public init(
        maximum: Period, times: Int? = 1, requiresApprover: Bool = false, requiresNotice: Bool = false,
        requiresConsent: Bool = false
    ) {
        self.maximum = maximum
        self.times = times
        self.requiresApprover = requiresApprover
        self.requiresNotice = requiresNotice
        self.requiresConsent = requiresConsent
    }
}

/// A statutory clock: when it starts, pauses and stops, and what happens when it runs out.
public struct DeadlineSpec: Sendable, Hashable, Codable {
    /// A stable id, e.g. `AR5.acceptance`.
    public var id: String
    /// The rule id it comes from (must be a known rule).
    public var rule: String
    public var period: Period
    /// Event names that start (or restart) the clock.
    public var startsOn: [String]
    /// Only when this named condition holds on the case (see ``DeadlineCondition``).
    public var condition: String?
    /// The clock starts at the registration's `receivedAt` (postmark) instead of the event time.
    public var fromReceipt: Bool
    /// States the clock is paused in (the time there is excluded).
    public var pausedIn: [String]
    /// States that stop the clock (it was met).
    public var stopsIn: [String]
    /// Event names that stop the clock.
    public var stopsOn: [String]
    /// An `approaching` warning this long before the end; `nil` for none.
    public var warnBefore: Period?
    /// The command the engine runs when the clock runs out (e.g. `deemAccept`); `nil` only records the breach.
    public var onBreach: String?
    /// `false` for a window that belongs to the parties (e.g. 15 days to sue): recorded, never fired.
    public var fires: Bool
    /// How the clock may be extended; `nil` when it cannot be.
    public var extensions: ExtensionSpec?

    public init(
        _ id: String, rule: String, period: Period, startsOn: [String], condition: String? = nil,
        fromReceipt: Bool = false, pausedIn: [String] = [], stopsIn: [String] = [], stopsOn: [String] = [],
        warnBefore: Period? = .days(1), onBreach: String? = nil, fires: Bool = true, extensions: ExtensionSpec? = nil
    ) {
        self.id = id
        self.rule = rule
        self.period = period
        self.startsOn = startsOn
        self.condition = condition
        self.fromReceipt = fromReceipt
        self.pausedIn = pausedIn
        self.stopsIn = stopsIn
        self.stopsOn = stopsOn
        self.warnBefore = warnBefore
        self.onBreach = onBreach
        self.fires = fires
        self.extensions = extensions
    }
}

/// A case kind's lifecycle, as data: states, transitions with their rules and guards, clocks and (for mediation)
/// the escalation ladder. Definitions are versioned; a case keeps the version it was registered under.
public struct WorkflowDefinition: Sendable, Hashable, Codable {
    public var kind: CaseKind
    /// The version, e.g. `cn-2024.1`, or `cn-2024.1+hz-2025.1` for a regional override.
    public var version: String
    /// Cases registered on or after this date (local) use this version (until a later one takes effect).
    public var effectiveFrom: CivilDate
    public var initialState: String
    public var states: [StateSpec]
    public var transitions: [TransitionSpec]
    public var deadlines: [DeadlineSpec]
    /// Mediation levels, bottom up (e.g. village, township, county). Empty for other kinds.
    public var ladder: [Level]
    /// A short note per setting that encodes an UNVERIFIED rule, shown in the docs.
    public var notes: [String]

    public init(
        kind: CaseKind, version: String, effectiveFrom: CivilDate, initialState: String, states: [StateSpec],
        transitions: [TransitionSpec], deadlines: [DeadlineSpec], ladder: [Level] = [], notes: [String] = []
    ) {
        self.kind = kind
        self.version = version
        self.effectiveFrom = effectiveFrom
        self.initialState = initialState
        self.states = states
        self.transitions = transitions
        self.deadlines = deadlines
        self.ladder = ladder
        self.notes = notes
    }

    /// The state spec by name.
    public func state(_ name: String) -> StateSpec? { states.first { $0.name == name } }

    /// The transition for `command` from `state`.
    public func transition(_ command: String, from state: String) -> TransitionSpec? {
        transitions.first { $0.command == command && $0.from.contains(state) }
    }

    /// Whether the state is terminal.
    public func isTerminal(_ state: String) -> Bool { self.state(state)?.terminal ?? false }

    public func deadline(_ id: String) -> DeadlineSpec? { deadlines.first { $0.id == id } }

    /// The level above `level` on the ladder; `nil` at the top or off the ladder.
    public func level(above level: Level) -> Level? {
        guard let index = ladder.firstIndex(of: level), index + 1 < ladder.count else { return nil }
        return ladder[index + 1]
    }

    /// Checks the definition: states exist, one initial and at least one terminal state, every state reachable
    /// from the initial one, a terminal state reachable from every state, guards and deadline conditions known,
    /// deadline rules known, and a ladder that only rises.
    ///
    /// - Throws: ``DefinitionError`` naming the kind, version and the first problem.
    public func validate() throws(DefinitionError) {
        func fail(_ problem: String) -> DefinitionError {
            DefinitionError(kind: kind, version: version, problem: problem)
        }
        var names = Set<String>()
        for state in states {
            guard !state.name.isEmpty else { throw fail("a state has an empty name") }
            // Every record's header carries the case's state name in at most 255 bytes.
            guard state.name.utf8.count <= 255 else {
                throw fail("state '\(state.name.prefix(40))…' has a name over 255 bytes of UTF-8")
            }
            guard names.insert(state.name).inserted else { throw fail("state '\(state.name)' is declared twice") }
        }
        guard names.contains(initialState) else { throw fail("the initial state '\(initialState)' is not declared") }
        guard states.contains(where: \.terminal) else {
            throw fail("no terminal state: every case must be able to close")
        }
        for t in transitions {
            for s in t.from where !names.contains(s) {
                throw fail("transition '\(t.command)' starts from unknown state '\(s)'")
            }
            if let to = t.to, !names.contains(to) {
                throw fail("transition '\(t.command)' leads to unknown state '\(to)'")
            }
            for g in t.guards where Guard(rawValue: g) == nil {
                throw fail("transition '\(t.command)' names unknown guard '\(g)'")
            }
            for r in t.rules where !RuleCatalog.isKnown(r) {
                throw fail("transition '\(t.command)' names unknown rule '\(r)'")
            }
            if t.command != "evaluate", let s = t.from.first(where: isTerminal) {
                throw fail(
                    "transition '\(t.command)' starts from terminal state '\(s)'; a closed case takes only its evaluation"
                )
            }
        }
        // Reachability from the initial state.
        var reached: Set<String> = [initialState]
        var frontier = [initialState]
        while let s = frontier.popLast() {
            for t in transitions where t.from.contains(s) {
                let next = t.to ?? s
                if reached.insert(next).inserted { frontier.append(next) }
            }
        }
        if let unreachable = states.first(where: { !reached.contains($0.name) }) {
            throw fail("state '\(unreachable.name)' cannot be reached from '\(initialState)'")
        }
        // Every state can reach a terminal state.
        let terminals = Set(states.filter(\.terminal).map(\.name))
        var canClose = terminals
        var changed = true
        while changed {
            changed = false
            for t in transitions {
                let next = t.to ?? ""
                guard canClose.contains(next) else { continue }
                for s in t.from where canClose.insert(s).inserted { changed = true }
            }
        }
        if let stuck = states.first(where: { !canClose.contains($0.name) }) {
            throw fail("state '\(stuck.name)' can never reach a terminal state")
        }
        var deadlineIDs = Set<String>()
        for d in deadlines {
            guard deadlineIDs.insert(d.id).inserted else { throw fail("deadline '\(d.id)' is declared twice") }
            // The clock's records carry its id in their header, in at most 255 bytes.
            guard !d.id.isEmpty, d.id.utf8.count <= 255 else {
                throw fail("deadline '\(d.id.prefix(40))' has an empty id or one over 255 bytes of UTF-8")
            }
            guard RuleCatalog.isKnown(d.rule) else {
                throw fail("deadline '\(d.id)' names unknown rule '\(d.rule)'; use a rule id from legal-rules.md")
            }
            // Bounded so date arithmetic on configuration from a YAML file can never overflow.
            guard (1...36_500).contains(d.period.amount) else {
                throw fail("deadline '\(d.id)' has a period of \(d.period); use 1 to 36500")
            }
            if let warn = d.warnBefore, !(0...3_650).contains(warn.amount) {
                throw fail("deadline '\(d.id)' warns \(warn) before; use 0 to 3650")
            }
            if let extensions = d.extensions, !(1...3_650).contains(extensions.maximum.amount) {
                throw fail("deadline '\(d.id)' allows extensions of \(extensions.maximum); use 1 to 3650")
            }
            if let c = d.condition, DeadlineCondition(rawValue: c) == nil {
                throw fail("deadline '\(d.id)' names unknown condition '\(c)'")
            }
            for s in d.pausedIn + d.stopsIn where !names.contains(s) {
                throw fail("deadline '\(d.id)' names unknown state '\(s)'")
            }
            if let command = d.onBreach, !transitions.contains(where: { $0.command == command }) {
                throw fail("deadline '\(d.id)' fires '\(command)', which no transition allows")
            }
        }
        var seenLevels = Set<Level>()
        for (index, level) in ladder.enumerated() {
            guard seenLevels.insert(level).inserted else {
                throw fail("the escalation ladder is a cycle: '\(level)' appears twice")
            }
            if index > 0, ladder[index - 1] >= level {
                throw fail("the escalation ladder must rise: '\(level)' comes after '\(ladder[index - 1])'")
            }
        }
        if kind.isMediation, ladder.isEmpty { throw fail("a mediation definition needs an escalation ladder") }
    }
}

/// A workflow definition that does not hold together.
public struct DefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: CaseKind
    public var version: String
    public var problem: String

    public init(kind: CaseKind, version: String, problem: String) {
        self.kind = kind
        self.version = version
        self.problem = problem
    }

    public var description: String { "DefinitionError: \(kind) \(version): \(problem)" }
}

/// Named conditions a deadline may depend on.
public enum DeadlineCondition: String, Sendable, Hashable, CaseIterable {
    case standardProcedure, simplifiedProcedure, finalAward, nonFinalAward

    func holds(on state: CaseState) -> Bool {
        switch self {
        case .standardProcedure: return state.review?.procedure == .standard
        case .simplifiedProcedure: return state.review?.procedure == .simplified
        case .finalAward: return state.award?.isFinal == true
        case .nonFinalAward: return state.award?.isFinal == false
        }
    }
}

/// The rule ids of legal-rules.md.
public enum RuleCatalog {
    static let counts: [(String, Int)] = [
        ("PM", 13), ("LA", 12), ("AR", 11), ("LD", 13), ("CA", 5), ("LT", 2), ("WO", 5),
    ]

    /// Every known rule id, e.g. `PM4`.
    public static let all: Set<String> = Set(counts.flatMap { prefix, n in (1...n).map { "\(prefix)\($0)" } })

    /// Whether `id` is a rule of legal-rules.md (or `ROUTING`, its §2, or `EVAL`, one evaluation per case).
    public static func isKnown(_ id: String) -> Bool { all.contains(id) || id == "ROUTING" || id == "EVAL" }
}
