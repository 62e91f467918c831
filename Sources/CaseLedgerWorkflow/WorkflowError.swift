/// Why a command was rejected (nothing was written), or why a case's history cannot be folded.
///
/// Every error names the case and, where a rule decided it, the rule id from legal-rules.md. `Code` is a struct
/// around a private value, so new codes do not break callers: `catch let e where e.code == .ruleViolation`.
public struct WorkflowError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        /// A statutory or configured rule forbids the command; ``WorkflowError/rule`` names it.
        public static let ruleViolation = Code(name: "ruleViolation")
        /// The command is not allowed in the case's current state.
        public static let transitionNotAllowed = Code(name: "transitionNotAllowed")
        /// No case has this id.
        public static let unknownCase = Code(name: "unknownCase")
        /// A case with this id exists already.
        public static let caseExists = Code(name: "caseExists")
        /// The command belongs to another kind of case.
        public static let wrongKind = Code(name: "wrongKind")
        /// A required field is missing or empty.
        public static let missingField = Code(name: "missingField")
        /// A field holds a value that is not allowed (a rating of 7, an unknown party, …).
        public static let invalidField = Code(name: "invalidField")
        /// The actor may not act for the unit that owns the case.
        public static let notAuthorized = Code(name: "notAuthorized")
        /// A unit or person is not in the directory.
        public static let unknownUnit = Code(name: "unknownUnit")
        public static let unknownPerson = Code(name: "unknownPerson")
        /// A closed case takes only its one evaluation.
        public static let caseClosed = Code(name: "caseClosed")
        /// A deadline needs a holiday calendar year that is not loaded.
        public static let calendarNotCovered = Code(name: "calendarNotCovered")
        /// No workflow definition is in force for the kind and date, or the case's version is not loaded.
        public static let noDefinition = Code(name: "noDefinition")
        /// The stored history does not fold under its definition (a corrupt or foreign event).
        public static let corruptHistory = Code(name: "corruptHistory")
        /// A stored event's schema version is not the one this release folds, and no configured upcaster carries it
        /// there: written by a newer CaseLedger, an older schema without its upcasters, or an upcaster that rewrote an
        /// event already current.
        public static let unsupportedSchema = Code(name: "unsupportedSchema")
        /// The case changed concurrently too often to apply the command; retry.
        public static let conflict = Code(name: "conflict")
        /// The event log failed; the underlying error is in the message.
        public static let storage = Code(name: "storage")

        public var description: String { name }
    }

    public let code: Code
    /// The case the command was for.
    public let caseID: CaseID?
    /// The rule id (e.g. `PM12`) when a rule decided it.
    public let rule: String?
    /// What was wrong and what to do.
    public let message: String

    public init(_ code: Code, case caseID: CaseID?, rule: String? = nil, _ message: String) {
        self.code = code
        self.caseID = caseID
        self.rule = rule
        self.message = message
    }

    public var description: String {
        var text = "WorkflowError.\(code)"
        if let rule { text += " [\(rule)]" }
        if let caseID { text += " case \(caseID)" }
        return text + ": " + message
    }
}
