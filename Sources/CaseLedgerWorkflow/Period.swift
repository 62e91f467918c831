/// How a period is counted.
public enum PeriodUnit: String, Sendable, Hashable, Codable, CaseIterable {
    /// Hours, from the next whole hour (CPL Art 85).
    case hours
    /// Calendar days (自然日), the start day not counted, the end rolled forward past rest days.
    case days
    /// Working days (工作日): weekends and rest days skipped, swapped working weekend days counted.
    case workingDays
    /// Calendar months: the corresponding day of the final month, or its last day (Civil Code Art 202).
    case months
    /// Calendar years, counted as twelve months.
    case years
}

/// A statutory period such as "60 days" or "5 working days".
public struct Period: Sendable, Hashable, Codable, CustomStringConvertible {
    public var amount: Int
    public var unit: PeriodUnit

    public init(_ amount: Int, _ unit: PeriodUnit) {
        self.amount = amount
        self.unit = unit
    }

    public static func days(_ n: Int) -> Period { Period(n, .days) }
    public static func workingDays(_ n: Int) -> Period { Period(n, .workingDays) }
    public static func months(_ n: Int) -> Period { Period(n, .months) }
    public static func hours(_ n: Int) -> Period { Period(n, .hours) }

    public var description: String {
        switch unit {
        case .hours: return "\(amount) hours"
        case .days: return "\(amount) days"
        case .workingDays: return "\(amount) working days"
        case .months: return "\(amount) months"
        case .years: return "\(amount) years"
        }
    }
}

/// The end of a period, as the law counts it (legal-rules.md §3).
public struct PeriodEnd: Sendable, Hashable, Codable {
    /// The last day before any roll-forward; pauses and extensions shift this day.
    public var nominalLastDay: CivilDate
    /// The moment the period ends: 24:00 local on the last day after roll-forward, or the exact hour for an hour
    /// period.
    public var dueAt: Instant
    /// Counted partly in a year the holiday calendar did not cover (ordinary weeks assumed; see
    /// ``HolidayCalendar/BeyondCoverage/provisional``).
    public var provisional: Bool

    public init(nominalLastDay: CivilDate, dueAt: Instant, provisional: Bool = false) {
        self.nominalLastDay = nominalLastDay
        self.dueAt = dueAt
        self.provisional = provisional
    }

    enum CodingKeys: String, CodingKey { case nominalLastDay, dueAt, provisional }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nominalLastDay = try c.decode(CivilDate.self, forKey: .nominalLastDay)
        dueAt = try c.decode(Instant.self, forKey: .dueAt)
        provisional = try c.decodeIfPresent(Bool.self, forKey: .provisional) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nominalLastDay, forKey: .nominalLastDay)
        try c.encode(dueAt, forKey: .dueAt)
        if provisional { try c.encode(true, forKey: .provisional) }
    }
}

extension HolidayCalendar {
    /// When a period that starts at `start` ends.
    ///
    /// - The start day (or hour) is not counted.
    /// - Day, month and year periods end at 24:00 local on the last day; a last day that is a rest day rolls
    ///   forward to the next day that is not.
    /// - Working-day periods count only working days, so they end on one.
    /// - Throws: ``CalendarError`` with code `notCovered` when a date the count needs lies outside the calendar.
    public func end(of period: Period, from start: Instant) throws(CalendarError) -> PeriodEnd {
        let startDay = LegalTime.date(of: start)
        switch period.unit {
        case .hours:
            let hour = Instant.microsecondsPerHour
            let t = start.microsecondsSinceEpoch
            let nextHour = (t % hour == 0) ? t : (t / hour + 1) * hour
            let due = Instant(microsecondsSinceEpoch: nextHour).adding(hours: Int64(period.amount))
            return PeriodEnd(nominalLastDay: LegalTime.date(of: due), dueAt: due)
        case .workingDays:
            let last = try adding(workingDays: period.amount, to: startDay)
            return PeriodEnd(
                nominalLastDay: last, dueAt: LegalTime.endOf(last), provisional: !covers(from: startDay, through: last))
        case .days:
            return try settle(startDay.adding(days: period.amount))
        case .months:
            return try settle(startDay.adding(months: period.amount))
        case .years:
            return try settle(startDay.adding(months: 12 * period.amount))
        }
    }

    /// The end for a nominal last day: rolled forward past rest days, at 24:00 local.
    public func settle(_ nominalLastDay: CivilDate) throws(CalendarError) -> PeriodEnd {
        let last = try rolledForward(nominalLastDay)
        return PeriodEnd(
            nominalLastDay: nominalLastDay, dueAt: LegalTime.endOf(last),
            provisional: !covers(from: nominalLastDay, through: last))
    }

    /// A period end moved later by `period` (an extension).
    public func extend(_ end: PeriodEnd, by period: Period) throws(CalendarError) -> PeriodEnd {
        switch period.unit {
        case .hours:
            let due = end.dueAt.adding(hours: Int64(period.amount))
            return PeriodEnd(nominalLastDay: LegalTime.date(of: due), dueAt: due)
        case .workingDays:
            let last = try adding(workingDays: period.amount, to: end.nominalLastDay)
            return PeriodEnd(
                nominalLastDay: last, dueAt: LegalTime.endOf(last),
                provisional: end.provisional || !covers(from: end.nominalLastDay, through: last))
        case .days: return try settle(end.nominalLastDay.adding(days: period.amount))
        case .months: return try settle(end.nominalLastDay.adding(months: period.amount))
        case .years: return try settle(end.nominalLastDay.adding(months: 12 * period.amount))
        }
    }

    /// A period end after a pause from `pausedAt` to `resumedAt`: the days of the pause are excluded, counted
    /// as the period counts (calendar days, or working days for a working-day period; exact time for hours). The
    /// pause covers the days after the pause day up to and including the resume day.
    public func resume(_ end: PeriodEnd, unit: PeriodUnit, pausedAt: Instant, resumedAt: Instant)
        throws(CalendarError) -> PeriodEnd
    {
        let from = LegalTime.date(of: pausedAt)
        let to = LegalTime.date(of: resumedAt)
        switch unit {
        case .hours:
            let due = Instant(
                microsecondsSinceEpoch: end.dueAt.microsecondsSinceEpoch
                    + max(0, resumedAt.microsecondsSinceEpoch - pausedAt.microsecondsSinceEpoch))
            return PeriodEnd(nominalLastDay: LegalTime.date(of: due), dueAt: due)
        case .workingDays:
            let paused = try workingDays(after: from, through: to)
            let last = try adding(workingDays: paused, to: end.nominalLastDay)
            return PeriodEnd(
                nominalLastDay: last, dueAt: LegalTime.endOf(last),
                provisional: end.provisional || !covers(from: from, through: last))
        case .days, .months, .years:
            return try settle(end.nominalLastDay.adding(days: max(0, to.dayNumber - from.dayNumber)))
        }
    }
}
