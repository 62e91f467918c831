/// Named guards a transition can require. Each is a check in code; definitions (and regional overrides) name
/// them, and a definition naming an unknown guard fails validation.
public enum Guard: String, Sendable, Hashable, Codable, CaseIterable {
    /// PM4: no party has refused mediation.
    case noPartyRefused
    /// PM2/PM3: the mediators are mediators of the owning committee.
    case mediatorsOfCommittee
    /// PM12/PM7/PM4: one level up (or to the top for major, complex or risky cases), with every party's consent.
    case ladderStep
    /// PM7: the report names the government, and the police for crime or public disorder.
    case riskReported
    /// PM8 and legal-rules.md §2: the suggested route is open for the dispute type.
    case routeAllowed
    /// PM10: the agreement has taken effect.
    case agreementEffective
    /// PM11: a joint application within 30 days of effect, on a matter a court confirms.
    case judicialConfirmation
    /// LD4: the 15-day mediation limit has passed, so arbitration is open.
    case arbitrationOpen
    /// LA3/LA4/LA5: no economic condition, an exemption with evidence, or a passed hardship check.
    case hardshipEstablished
    /// LA7: a linked deadline under 7 days away, or urgent preservation.
    case provisionalAidAllowed
    /// LA6/LA9: the provider is a lawyer in the directory.
    case providerIsLawyer
    /// LA11: the justice bureau over the centre decides the objection.
    case justiceBureauDecides
    /// AR5: the correction notice lists everything at once: only one.
    case correctionOnce
    /// AR4: no parallel proceedings on the same act.
    case noParallelProceedings
    /// AR7: conversion only from the simplified procedure.
    case simplifiedProcedure
    /// CA1: the dispute is arbitrable.
    case arbitrable
    /// CA2: a valid arbitration agreement exists.
    case arbitrationAgreement
}
