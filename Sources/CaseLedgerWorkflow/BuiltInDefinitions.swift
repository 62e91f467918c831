/// The national definitions: the rules of legal-rules.md as data. A region changes deadlines, ladder levels and
/// extra states with a ``RegionOverride`` instead of code.
public enum BuiltInDefinitions {
    /// The version name of the national definitions in force from 2024-01-01.
    public static let nationalVersion = "cn-2024.1"

    static let from2024 = CivilDate(year: 2024, month: 1, day: 1) ?? CivilDate(dayNumber: 19_723)

    /// Every built-in definition.
    public static var all: [WorkflowDefinition] {
        [
            mediation(.peopleMediation), mediation(.labourMediation), legalAid, administrativeReview,
            labourArbitration, commercialArbitration2017, commercialArbitration2025, litigation, consultation,
        ]
    }

    typealias T = TransitionSpec

    static func mediation(_ kind: CaseKind) -> WorkflowDefinition {
        let open = ["awaitingMediation", "mediating", "terminated", "failed", "agreed"]
        var transitions: [TransitionSpec] = [
            T("handOff", from: open, requires: ["reason"]),
            T("refuseMediation", from: ["awaitingMediation"], rules: ["PM4"]),
            T(
                "startMediation", from: ["awaitingMediation"], to: "mediating", rules: ["PM2", "PM3", "PM4"],
                guards: ["noPartyRefused", "mediatorsOfCommittee"]),
            T(
                "endMediationAtPartyRequest", from: ["awaitingMediation", "mediating"], to: "terminated", rules: ["PM4"]
            ),
            T(
                "markMajorOrComplex", from: ["awaitingMediation", "mediating", "failed"], rules: ["PM12"],
                requires: ["reason"]),
            T(
                "flagRisk", from: ["awaitingMediation", "mediating", "failed", "terminated"], to: "awaitingMediation",
                rules: ["PM7"], guards: ["riskReported"]),
            T(
                "escalate", from: ["awaitingMediation", "mediating", "failed"], to: "awaitingMediation",
                rules: ["PM4", "PM12"], guards: ["ladderStep"]),
            T(
                "declareFailure", from: ["mediating", "terminated"], to: "failed", rules: ["PM8"],
                guards: ["routeAllowed"], requires: ["rightsNotice"]),
            T("reachAgreement", from: ["mediating"], to: "agreed", rules: ["PM10"], requires: ["terms"]),
            T("signAgreement", from: ["agreed"], rules: ["PM10"]),
            T(
                "applyJudicialConfirmation", from: ["agreed"], rules: ["PM11"], guards: ["judicialConfirmation"],
                requires: ["court"]),
            T("refer", from: ["failed"], to: "closed", rules: ["PM8", "ROUTING"], guards: ["routeAllowed"]),
            T("extendDeadline", from: ["awaitingMediation", "mediating"], rules: ["PM13"]),
            T(
                "close", from: ["agreed"], to: "closed", rules: ["PM9", "PM10"], guards: ["agreementEffective"],
                requires: ["outcome"]),
            T("close", from: ["failed"], to: "closed", rules: ["PM8", "PM9"], requires: ["outcome"]),
            T("evaluate", from: ["closed"], rules: ["EVAL"]),
        ]
        var deadlines: [DeadlineSpec] = [
            DeadlineSpec(
                "PM13.level", rule: "PM13", period: .months(1), startsOn: ["registered", "escalated"],
                stopsIn: ["agreed", "failed", "terminated", "closed"], warnBefore: .days(3),
                extensions: ExtensionSpec(maximum: .months(1), times: nil, requiresConsent: true)),
            DeadlineSpec(
                "PM11.confirmation", rule: "PM11", period: .days(30), startsOn: ["agreementTookEffect"],
                stopsOn: ["judicialConfirmationApplied"], warnBefore: .days(5), fires: false),
        ]
        if kind == .labourMediation {
            transitions.append(
                T(
                    "refer", from: ["awaitingMediation", "mediating", "terminated"], to: "closed",
                    rules: ["LD4", "ROUTING"], guards: ["arbitrationOpen", "routeAllowed"]))
            transitions.append(
                T("openArbitration", from: ["awaitingMediation", "mediating", "terminated", "failed"], rules: ["LD4"]))
            transitions.append(
                T(
                    "recordNonPerformance", from: ["agreed"], rules: ["LD5"], guards: ["agreementEffective"],
                    requires: ["note"]))
            transitions.append(
                T(
                    "refer", from: ["agreed"], to: "closed", rules: ["LD5", "ROUTING"],
                    guards: ["arbitrationOpen", "routeAllowed"]))
            deadlines.append(
                DeadlineSpec(
                    "LD4.mediation", rule: "LD4", period: .days(15), startsOn: ["registered"], fromReceipt: true,
                    stopsIn: ["agreed", "failed", "closed"], warnBefore: .days(2), onBreach: "openArbitration"))
        }
        return WorkflowDefinition(
            kind: kind, version: nationalVersion, effectiveFrom: from2024, initialState: "awaitingMediation",
            states: [
                StateSpec("awaitingMediation", summary: "registered and accepted at a level; no mediation yet"),
                StateSpec("mediating", summary: "mediators assigned, sessions under way"),
                StateSpec("terminated", summary: "a party ended the mediation (PM4)"),
                StateSpec("failed", summary: "mediation failed; rights notice and route recorded (PM8)"),
                StateSpec("agreed", summary: "an agreement was reached; signatures and confirmation follow"),
                StateSpec("closed", terminal: true, summary: "closed and archived (PM9)"),
            ],
            transitions: transitions, deadlines: deadlines, ladder: [.village, .township, .county],
            notes: [
                "Ladder village → township → county: the county level is local policy (PM12, UNVERIFIED); a "
                    + "region without one overrides `ladder`.",
                "PM13 one month per level is a soft limit (MoJ 2002); extension needs every party's consent.",
            ])
    }

    static var legalAid: WorkflowDefinition {
        let open = [
            "applied", "pendingMaterials", "approved", "assigned", "closing", "closingReview", "denied",
            "aidTerminated", "objection",
        ]
        return WorkflowDefinition(
            kind: .legalAid, version: nationalVersion, effectiveFrom: from2024, initialState: "applied",
            states: [
                StateSpec("applied", summary: "application received, under review"),
                StateSpec("pendingMaterials", summary: "missing materials requested; the review clock pauses"),
                StateSpec("approved", summary: "aid granted (or provisional aid); a provider is due in 3 days"),
                StateSpec("assigned", summary: "a lawyer or legal worker handles the matter"),
                StateSpec("closing", summary: "the matter ended; the closing report is due"),
                StateSpec("closingReview", summary: "report submitted; quality review"),
                StateSpec("denied", summary: "refused in writing with reasons"),
                StateSpec("aidTerminated", summary: "terminated on an Art 48 ground"),
                StateSpec("objection", summary: "objection before the justice bureau"),
                StateSpec("closed", terminal: true),
            ],
            transitions: [
                T("handOff", from: open, requires: ["reason"]),
                T("requestMaterials", from: ["applied"], to: "pendingMaterials", rules: ["LA6"]),
                T("supplyMaterials", from: ["pendingMaterials"], to: "applied", rules: ["LA6"]),
                T(
                    "withdrawApplication", from: ["applied", "pendingMaterials"], to: "closed", rules: ["LA6"],
                    requires: ["reason"]),
                T("recordHardshipCheck", from: ["applied"], rules: ["LA4"]),
                T(
                    "approveAid", from: ["applied"], to: "approved", rules: ["LA3", "LA4", "LA5", "LA6"],
                    guards: ["hardshipEstablished"]),
                T("denyAid", from: ["applied"], to: "denied", rules: ["LA6"], requires: ["reasons"]),
                T(
                    "grantProvisionalAid", from: ["applied", "pendingMaterials"], to: "approved", rules: ["LA7"],
                    guards: ["provisionalAidAllowed"], requires: ["reason"]),
                T("assignProvider", from: ["approved"], to: "assigned", rules: ["LA6"], guards: ["providerIsLawyer"]),
                T(
                    "reassignProvider", from: ["assigned"], rules: ["LA9"], guards: ["providerIsLawyer"],
                    requires: ["reason"]),
                T(
                    "terminateAid", from: ["approved", "assigned"], to: "aidTerminated", rules: ["LA10"],
                    requires: ["note"]),
                T(
                    "fileObjection", from: ["denied", "aidTerminated"], to: "objection", rules: ["LA11"],
                    requires: ["grounds"]),
                T(
                    "dismissObjection", from: ["objection"], to: "closed", rules: ["LA11"],
                    guards: ["justiceBureauDecides"], requires: ["reasons"]),
                T(
                    "orderCorrection", from: ["objection"], to: "applied", rules: ["LA11"],
                    guards: ["justiceBureauDecides"], requires: ["reasons"]),
                T("reportMatterEnded", from: ["assigned"], to: "closing", rules: ["LA12"]),
                T(
                    "submitClosingReport", from: ["closing", "aidTerminated"], to: "closingReview", rules: ["LA12"],
                    requires: ["report"]),
                T("recordQualityReview", from: ["closingReview"], to: "closed", rules: ["LA12"]),
                T("close", from: ["denied"], to: "closed", rules: ["LA6"], requires: ["outcome"]),
                T("extendDeadline", from: ["applied"], rules: ["LA6"]),
                T("evaluate", from: ["closed"], rules: ["EVAL"]),
            ],
            deadlines: [
                DeadlineSpec(
                    "LA6.decision", rule: "LA6", period: .days(7), startsOn: ["registered"], fromReceipt: true,
                    pausedIn: ["pendingMaterials"], stopsIn: ["approved", "denied", "closed"], warnBefore: .days(2),
                    extensions: ExtensionSpec(maximum: .days(3), times: 1, requiresApprover: true)),
                DeadlineSpec(
                    "LA6.assignment", rule: "LA6", period: .days(3),
                    startsOn: ["aidApproved", "provisionalAidGranted"],
                    stopsIn: ["assigned", "aidTerminated", "closed"]),
                DeadlineSpec(
                    "LA11.objection", rule: "LA11", period: .days(5), startsOn: ["objectionFiled"],
                    stopsIn: ["applied", "closed"]),
                DeadlineSpec(
                    "LA12.closingMaterials", rule: "LA12", period: .days(30), startsOn: ["matterEnded"],
                    stopsIn: ["closingReview", "closed"], warnBefore: .days(5)),
            ],
            notes: [
                "LA6 decision: 7 calendar days (the Law does not say working days); the MoJ 2023 procedure rules "
                    + "are believed to say 7 working days, extendable by 3 (UNVERIFIED). Override `LA6.decision`.",
                "LA12 closing materials within 30 days: local rules (UNVERIFIED).",
                "LA11: the Law sets no deadline for filing an objection; none is enforced.",
            ])
    }

    static var administrativeReview: WorkflowDefinition {
        let open = ["received", "correcting", "accepted", "mediating", "suspended", "decided", "refused"]
        return WorkflowDefinition(
            kind: .administrativeReview, version: nationalVersion, effectiveFrom: from2024, initialState: "received",
            states: [
                StateSpec("received", summary: "application received; the 5-working-day acceptance check runs"),
                StateSpec("correcting", summary: "correction requested; the acceptance check pauses"),
                StateSpec("accepted", summary: "accepted (or deemed accepted); the decision clock runs"),
                StateSpec("mediating", summary: "mediation inside review; the decision clock pauses (AR8)"),
                StateSpec("suspended", summary: "suspended on an Art 39 ground; excluded from the clock (AR9)"),
                StateSpec("decided", summary: "decision made; 15 days to sue"),
                StateSpec("refused", summary: "filing refused"),
                StateSpec("closed", terminal: true),
            ],
            transitions: [
                T("handOff", from: open, requires: ["reason"]),
                T(
                    "requestCorrection", from: ["received"], to: "correcting", rules: ["AR5"],
                    guards: ["correctionOnce"]),
                T("submitCorrection", from: ["correcting"], to: "received", rules: ["AR5"]),
                T("deemAbandoned", from: ["correcting"], to: "closed", rules: ["AR5"]),
                T(
                    "acceptReview", from: ["received"], to: "accepted", rules: ["AR5", "AR4"],
                    guards: ["noParallelProceedings"]),
                T("deemAccept", from: ["received"], to: "accepted", rules: ["AR5"]),
                T(
                    "refuseFiling", from: ["received", "correcting"], to: "refused", rules: ["AR5"],
                    requires: ["reasons"]),
                T(
                    "convertToStandard", from: ["accepted"], rules: ["AR7"], guards: ["simplifiedProcedure"],
                    requires: ["reason"]),
                T("extendDeadline", from: ["accepted", "correcting"], rules: ["AR5", "AR7"]),
                T("startReviewMediation", from: ["accepted"], to: "mediating", rules: ["AR8"]),
                T(
                    "concludeReviewMediation", from: ["mediating"], to: "closed", rules: ["AR8"],
                    requires: ["statement"]),
                T("failReviewMediation", from: ["mediating"], to: "accepted", rules: ["AR8"]),
                T("settleReview", from: ["accepted", "mediating"], to: "closed", rules: ["AR8"], requires: ["terms"]),
                T("suspendReview", from: ["accepted"], to: "suspended", rules: ["AR9"], requires: ["ground"]),
                T("resumeReview", from: ["suspended"], to: "accepted", rules: ["AR9"]),
                T(
                    "terminateReview", from: ["accepted", "suspended"], to: "closed", rules: ["AR9"],
                    requires: ["ground"]),
                T("decideReview", from: ["accepted"], to: "decided", rules: ["AR7"]),
                T(
                    "serveApplication", from: ["accepted", "mediating", "suspended"], rules: ["AR6"],
                    requires: ["respondent"]),
                T("recordRespondentAnswer", from: ["accepted", "mediating", "suspended"], rules: ["AR6"]),
                T("close", from: ["decided", "refused"], to: "closed", rules: ["AR11"], requires: ["outcome"]),
                T("evaluate", from: ["closed"], rules: ["EVAL"]),
            ],
            deadlines: [
                DeadlineSpec(
                    "AR5.acceptance", rule: "AR5", period: .workingDays(5), startsOn: ["registered"],
                    fromReceipt: true, pausedIn: ["correcting"], stopsIn: ["accepted", "refused", "closed"],
                    onBreach: "deemAccept"),
                DeadlineSpec(
                    "AR5.correction", rule: "AR5", period: .workingDays(10), startsOn: ["correctionRequested"],
                    stopsIn: ["received", "refused", "closed"], warnBefore: .days(2), onBreach: "deemAbandoned",
                    extensions: ExtensionSpec(maximum: .workingDays(10), times: 1)),
                DeadlineSpec(
                    "AR7.standard", rule: "AR7", period: .days(60), startsOn: ["reviewAccepted", "procedureConverted"],
                    condition: "standardProcedure", pausedIn: ["mediating", "suspended"],
                    stopsIn: ["decided", "closed"], warnBefore: .days(7),
                    extensions: ExtensionSpec(
                        maximum: .days(30), times: 1, requiresApprover: true, requiresNotice: true)),
                DeadlineSpec(
                    "AR7.simplified", rule: "AR7", period: .days(30), startsOn: ["reviewAccepted"],
                    condition: "simplifiedProcedure", pausedIn: ["mediating", "suspended"],
                    stopsIn: ["decided", "closed"], stopsOn: ["procedureConverted"], warnBefore: .days(5)),
                DeadlineSpec(
                    "AR6.service", rule: "AR6", period: .workingDays(7), startsOn: ["reviewAccepted"],
                    condition: "standardProcedure", stopsIn: ["decided", "closed"], stopsOn: ["applicationServed"]),
                DeadlineSpec(
                    "AR6.serviceSimplified", rule: "AR6", period: .workingDays(3), startsOn: ["reviewAccepted"],
                    condition: "simplifiedProcedure", stopsIn: ["decided", "closed"],
                    stopsOn: ["applicationServed", "procedureConverted"]),
                DeadlineSpec(
                    "AR6.answer", rule: "AR6", period: .workingDays(10), startsOn: ["applicationServed"],
                    condition: "standardProcedure", stopsIn: ["decided", "closed"], stopsOn: ["respondentAnswered"],
                    warnBefore: .days(2)),
                DeadlineSpec(
                    "AR6.answerSimplified", rule: "AR6", period: .workingDays(5), startsOn: ["applicationServed"],
                    condition: "simplifiedProcedure", stopsIn: ["decided", "closed"],
                    stopsOn: ["respondentAnswered", "procedureConverted"]),
                DeadlineSpec(
                    "AR9.suspension", rule: "AR9", period: .days(60), startsOn: ["reviewSuspended"],
                    stopsIn: ["accepted", "closed"], warnBefore: .days(7)),
                DeadlineSpec(
                    "AR11.suit", rule: "AR11", period: .days(15), startsOn: ["reviewDecided", "filingRefused"],
                    warnBefore: nil, fires: false),
            ],
            notes: [
                "AR7 on conversion to the standard procedure: the 60 days are counted from the conversion "
                    + "(believed; the Law does not say).",
                "AR11 counts 15 days from the decision; the party's receipt date may be later (postal service).",
            ])
    }

    static var labourArbitration: WorkflowDefinition {
        WorkflowDefinition(
            kind: .labourArbitration, version: nationalVersion, effectiveFrom: from2024, initialState: "applied",
            states: [
                StateSpec("applied", summary: "application received; acceptance due in 5 days"),
                StateSpec("accepted", summary: "accepted; mediation is tried first (LD9)"),
                StateSpec("hearing", summary: "mediation failed; the tribunal hears the case"),
                StateSpec("awarded", summary: "award made (final or non-final, LD11)"),
                StateSpec("refused", summary: "not accepted; the applicant may sue (LD7)"),
                StateSpec("closed", terminal: true),
            ],
            transitions: [
                T("handOff", from: ["applied", "accepted", "hearing", "awarded", "refused"], requires: ["reason"]),
                T("acceptArbitration", from: ["applied"], to: "accepted", rules: ["LD7"]),
                T("refuseArbitration", from: ["applied"], to: "refused", rules: ["LD7"], requires: ["reasons"]),
                T("openLitigation", from: ["applied", "accepted", "hearing"], rules: ["LD7", "LD10"]),
                T("recordArbitralMediationSuccess", from: ["accepted"], to: "closed", rules: ["LD9"]),
                T("recordArbitralMediationFailure", from: ["accepted"], to: "hearing", rules: ["LD9"]),
                T("extendDeadline", from: ["accepted", "hearing"], rules: ["LD10"]),
                T("serveApplication", from: ["accepted", "hearing"], rules: ["LD8"], requires: ["respondent"]),
                T("recordRespondentAnswer", from: ["accepted", "hearing"], rules: ["LD8"]),
                T("issueAward", from: ["hearing"], to: "awarded", rules: ["LD9", "LD10", "LD11"]),
                T("close", from: ["awarded", "refused"], to: "closed", rules: ["LD11"], requires: ["outcome"]),
                T("evaluate", from: ["closed"], rules: ["EVAL"]),
            ],
            deadlines: [
                DeadlineSpec(
                    "LD7.acceptance", rule: "LD7", period: .days(5), startsOn: ["registered"], fromReceipt: true,
                    stopsIn: ["accepted", "refused", "closed"], onBreach: "openLitigation"),
                DeadlineSpec(
                    "LD8.service", rule: "LD8", period: .days(5), startsOn: ["arbitrationAccepted"],
                    stopsIn: ["awarded", "closed"], stopsOn: ["applicationServed"]),
                DeadlineSpec(
                    "LD8.defence", rule: "LD8", period: .days(10), startsOn: ["applicationServed"],
                    stopsIn: ["awarded", "closed"], stopsOn: ["respondentAnswered"], warnBefore: nil, fires: false),
                DeadlineSpec(
                    "LD10.award", rule: "LD10", period: .days(45), startsOn: ["arbitrationAccepted"],
                    stopsIn: ["awarded", "closed"], warnBefore: .days(5), onBreach: "openLitigation",
                    extensions: ExtensionSpec(
                        maximum: .days(15), times: 1, requiresApprover: true, requiresNotice: true)
                ),
                DeadlineSpec(
                    "LD11.suit", rule: "LD11", period: .days(15), startsOn: ["awardIssued"], warnBefore: nil,
                    fires: false),
                DeadlineSpec(
                    "LD11.setAside", rule: "LD11", period: .days(30), startsOn: ["awardIssued"],
                    condition: "finalAward", warnBefore: nil, fires: false),
            ],
            notes: [
                "LD13: the Law is silent on the day type, so calendar days with roll-forward; the MoHRSS 2017 rules "
                    + "may make short periods working days (UNVERIFIED). Override `LD7.acceptance`."
            ])
    }

    static func commercialArbitration(version: String, from: CivilDate, deemedAgreement: Bool) -> WorkflowDefinition {
        var transitions: [TransitionSpec] = [
            T("handOff", from: ["referred", "accepted", "awarded", "refused"], requires: ["reason"]),
            T(
                "acceptArbitration", from: ["referred"], to: "accepted", rules: ["CA1", "CA2"],
                guards: ["arbitrable", "arbitrationAgreement"]),
            T("refuseArbitration", from: ["referred"], to: "refused", rules: ["CA2"], requires: ["reasons"]),
            T("issueAward", from: ["accepted"], to: "awarded", rules: ["CA5"]),
            T("objectToAgreement", from: ["referred", "accepted"], rules: ["CA4"], requires: ["grounds"]),
            T("recordFirstHearing", from: ["accepted"], rules: ["CA4"]),
            T("close", from: ["awarded", "refused"], to: "closed", rules: ["CA5"], requires: ["outcome"]),
            T("evaluate", from: ["closed"], rules: ["EVAL"]),
        ]
        if deemedAgreement {
            transitions.append(T("recordDeemedAgreement", from: ["referred"], rules: ["CA3"], requires: ["note"]))
        }
        return WorkflowDefinition(
            kind: .commercialArbitration, version: version, effectiveFrom: from, initialState: "referred",
            states: [
                StateSpec("referred"), StateSpec("accepted"), StateSpec("awarded", summary: "one award is final (CA5)"),
                StateSpec("refused"), StateSpec("closed", terminal: true),
            ],
            transitions: transitions,
            deadlines: [
                DeadlineSpec(
                    "CA5.setAside", rule: "CA5", period: .months(6), startsOn: ["awardIssued"], warnBefore: nil,
                    fires: false)
            ],
            notes: deemedAgreement
                ? [
                    "Arbitration Law as revised 2025-09-12, in force 2026-03-01: an agreement may be deemed (CA3, 2025 Art 27)."
                ]
                : ["Arbitration Law 2017 text."])
    }

    static var commercialArbitration2017: WorkflowDefinition {
        commercialArbitration(
            version: "cn-arbitration-2017", from: CivilDate(year: 2018, month: 1, day: 1) ?? from2024,
            deemedAgreement: false)
    }

    static var commercialArbitration2025: WorkflowDefinition {
        commercialArbitration(
            version: "cn-arbitration-2025", from: CivilDate(year: 2026, month: 3, day: 1) ?? from2024,
            deemedAgreement: true)
    }

    static var litigation: WorkflowDefinition {
        WorkflowDefinition(
            kind: .litigation, version: nationalVersion, effectiveFrom: from2024, initialState: "referred",
            states: [
                StateSpec("referred", summary: "handed to the court; filing decided within 7 days (LT1)"),
                StateSpec("filed", summary: "the court took the case over"), StateSpec("rejected"),
                StateSpec("closed", terminal: true),
            ],
            transitions: [
                T("handOff", from: ["referred", "filed", "rejected"], requires: ["reason"]),
                T(
                    "recordCourtFiling", from: ["referred"], to: "filed", rules: ["LT1", "AR4"],
                    guards: ["noParallelProceedings"], requires: ["court"]),
                T("rejectCourtFiling", from: ["referred"], to: "rejected", rules: ["LT1"], requires: ["reasons"]),
                T("close", from: ["filed", "rejected"], to: "closed", rules: ["LT1"], requires: ["outcome"]),
                T("evaluate", from: ["closed"], rules: ["EVAL"]),
            ],
            deadlines: [
                DeadlineSpec(
                    "LT1.filing", rule: "LT1", period: .days(7), startsOn: ["registered"],
                    stopsIn: ["filed", "rejected", "closed"], warnBefore: .days(2))
            ])
    }

    static var consultation: WorkflowDefinition {
        WorkflowDefinition(
            kind: .consultation, version: nationalVersion, effectiveFrom: from2024, initialState: "open",
            states: [
                StateSpec("open", summary: "a hotline or online question, registered"),
                StateSpec("answered"), StateSpec("closed", terminal: true),
            ],
            transitions: [
                T("handOff", from: ["open", "answered"], requires: ["reason"]),
                T("answer", from: ["open"], to: "answered", rules: ["WO3"], requires: ["answer"]),
                T("convertToCase", from: ["open", "answered"], to: "closed", rules: ["WO1"]),
                T("close", from: ["answered"], to: "closed", rules: ["WO3"], requires: ["outcome"]),
                T("extendDeadline", from: ["open"], rules: ["WO3"]),
                T("evaluate", from: ["closed"], rules: ["EVAL"]),
            ],
            deadlines: [
                DeadlineSpec(
                    "WO3.feedback", rule: "WO3", period: .workingDays(5), startsOn: ["registered"],
                    stopsIn: ["answered", "closed"],
                    extensions: ExtensionSpec(maximum: .workingDays(10), times: 1, requiresApprover: true))
            ],
            notes: [
                "WO3: no national limit for 12348 work orders was found; the Shandong example (feedback in 5 working "
                    + "days, extendable to 15) is the default (UNVERIFIED)."
            ])
    }
}
