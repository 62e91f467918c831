/// Official rest days and swapped working days, year by year, as the State Council publishes them.
///
/// Lunar holidays and the yearly swaps (调休) cannot be computed from a rule, so the calendar is data. It knows
/// which years it covers; asking about a date outside them throws ``CalendarError`` rather than guessing.
public struct HolidayCalendar: Sendable, Hashable {
    /// One year's arrangement.
    public struct Year: Sendable, Hashable, Codable {
        /// Every day off in each holiday block, including weekend days inside a block.
        public var restDays: [CivilDate]
        /// Swapped working weekend days (调休上班).
        public var workingDays: [CivilDate]
        /// The notice the dates come from, e.g. `国办发明电〔2025〕7号`.
        public var notice: String

        public init(restDays: [CivilDate], workingDays: [CivilDate], notice: String) {
            self.restDays = restDays
            self.workingDays = workingDays
            self.notice = notice
        }

        enum CodingKeys: String, CodingKey {
            case restDays = "rest_days"
            case workingDays = "working_days"
            case notice
        }
    }

    /// What to do with a date in a year the calendar does not cover.
    public enum BeyondCoverage: String, Sendable, Hashable, Codable {
        /// Throw ``CalendarError`` (code `notCovered`): the command that needs the date is refused until the year's
        /// notice is loaded. The default.
        case refuse
        /// Count such dates with ordinary weeks (weekends rest, no holidays, no swaps) and mark every period end
        /// that depends on them ``PeriodEnd/provisional``. Once the year is loaded, day, month and year clocks are
        /// recounted by the next tick; working-day clocks keep their provisional end.
        case provisional
    }

    /// The years, by calendar year.
    public let years: [Int: Year]
    /// What happens to dates outside ``years``.
    public var beyondCoverage: BeyondCoverage
    /// Whether an ordinary Saturday or Sunday counts as a rest day for the end-of-period roll-forward
    /// (legal-rules.md §3.8, UNVERIFIED; believed default `true`).
    public var weekendsRollForward: Bool
    private let restDays: Set<Int>
    private let workingDays: Set<Int>

    /// Builds a calendar from yearly data, checking that each date lies in its year, that a swapped working day is
    /// a weekend day, and that no day is both a rest day and a working day.
    ///
    /// - Throws: ``CalendarError`` naming the first bad date.
    public init(years: [Int: Year], weekendsRollForward: Bool = true, beyondCoverage: BeyondCoverage = .refuse)
        throws(CalendarError)
    {
        var rest = Set<Int>()
        var work = Set<Int>()
        for (year, entry) in years.sorted(by: { $0.key < $1.key }) {
            for date in entry.restDays {
                guard date.year == year else {
                    throw CalendarError(
                        .invalidData, "rest day \(date) is listed under \(year); list it under its own year")
                }
                rest.insert(date.dayNumber)
            }
            for date in entry.workingDays {
                guard date.year == year else {
                    throw CalendarError(
                        .invalidData, "working day \(date) is listed under \(year); list it under its own year")
                }
                guard date.isWeekend else {
                    throw CalendarError(
                        .invalidData,
                        "working day \(date) is a weekday; only swapped Saturdays and Sundays belong in working_days")
                }
                guard !rest.contains(date.dayNumber) else {
                    throw CalendarError(.invalidData, "\(date) is listed both as a rest day and as a working day")
                }
                work.insert(date.dayNumber)
            }
        }
        self.years = years
        self.weekendsRollForward = weekendsRollForward
        self.beyondCoverage = beyondCoverage
        self.restDays = rest
        self.workingDays = work
    }

    /// The first and last year covered, or `nil` for an empty calendar.
    public var coveredYears: ClosedRange<Int>? {
        guard let first = years.keys.min(), let last = years.keys.max() else { return nil }
        return first...last
    }

    /// Whether every year from `from` through `through` is loaded.
    public func covers(from: CivilDate, through: CivilDate) -> Bool {
        (min(from.year, through.year)...max(from.year, through.year)).allSatisfy { years[$0] != nil }
    }

    private func requireCovered(_ date: CivilDate) throws(CalendarError) {
        guard years[date.year] != nil || beyondCoverage == .provisional else {
            let covered = coveredYears.map { "\($0.lowerBound)–\($0.upperBound)" } ?? "no year"
            throw CalendarError(
                .notCovered,
                "\(date) falls in \(date.year), which the holiday calendar does not cover (it covers \(covered)); "
                    + "load the State Council holiday notice for \(date.year)",
                year: date.year)
        }
    }

    /// Whether the law itself makes `date` a rest day, whatever the year's notice says (全国年节及纪念日放假办法,
    /// Art 2, as revised in 2024, in force from 2025): New Year's Day, the two days of Labour Day (one before 2025)
    /// and the three of National Day. A notice adds days around them and swaps weekends, but never makes them working
    /// days, so counting in a year the calendar does not cover (provisionally) takes them as rest days. The lunar
    /// holidays (Spring Festival, Qingming, Dragon Boat, Mid-Autumn) move from year to year and are not among them.
    public static func isFixedDateStatutoryHoliday(_ date: CivilDate) -> Bool {
        switch (date.month, date.day) {
        case (1, 1), (5, 1), (10, 1), (10, 2), (10, 3): return true
        case (5, 2): return date.year >= 2025
        default: return false
        }
    }

    /// A date of a year the calendar does not cover (counted provisionally) that the law makes a rest day.
    private func isUncoveredStatutoryHoliday(_ date: CivilDate) -> Bool {
        years[date.year] == nil && Self.isFixedDateStatutoryHoliday(date)
    }

    /// Whether a date is a working day: a weekday that is not a rest day, or a swapped working weekend day.
    public func isWorkingDay(_ date: CivilDate) throws(CalendarError) -> Bool {
        try requireCovered(date)
        if isUncoveredStatutoryHoliday(date) { return false }
        let n = date.dayNumber
        if workingDays.contains(n) { return true }
        if restDays.contains(n) { return false }
        return !date.isWeekend
    }

    /// Whether a period ending on `date` rolls forward to the next day: a listed rest day, or (with
    /// ``weekendsRollForward``) an ordinary weekend day that is not a swapped working day.
    public func rollsForward(_ date: CivilDate) throws(CalendarError) -> Bool {
        try requireCovered(date)
        if isUncoveredStatutoryHoliday(date) { return true }
        let n = date.dayNumber
        if workingDays.contains(n) { return false }
        if restDays.contains(n) { return true }
        return weekendsRollForward && date.isWeekend
    }

    /// The first day on or after `date` that does not roll forward (Civil Code Art 203, CPL Art 85).
    public func rolledForward(_ date: CivilDate) throws(CalendarError) -> CivilDate {
        var day = date
        while try rollsForward(day) { day = day.adding(days: 1) }
        return day
    }

    /// Whether `date` falls within a period whose nominal last day is `lastDay`, that day rolled forward while it is
    /// a rest day. Only the days before `date` are looked up: a date on or before the nominal last day needs no year
    /// of the calendar (a one-year limitation that ends next year is met today without next year's notice).
    func isWithin(_ date: CivilDate, periodEndingOn lastDay: CivilDate) throws(CalendarError) -> Bool {
        var day = lastDay
        while day < date {
            guard try rollsForward(day) else { return false }  // the period ended on `day`
            day = day.adding(days: 1)
        }
        return true
    }

    /// The `count`-th working day after `date` (the start day is not counted).
    public func adding(workingDays count: Int, to date: CivilDate) throws(CalendarError) -> CivilDate {
        var day = date
        var left = count
        while left > 0 {
            day = day.adding(days: 1)
            if try isWorkingDay(day) { left -= 1 }
        }
        return day
    }

    /// Working days in `(from, through]`.
    public func workingDays(after from: CivilDate, through: CivilDate) throws(CalendarError) -> Int {
        var count = 0
        var day = from
        while day < through {
            day = day.adding(days: 1)
            if try isWorkingDay(day) { count += 1 }
        }
        return count
    }
}

/// A holiday-calendar failure: bad data, or a date the calendar does not cover.
public struct CalendarError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        /// The data is inconsistent (a date in the wrong year, a weekday listed as a swapped working day, …).
        public static let invalidData = Code(name: "invalidData")
        /// A date falls in a year the calendar does not cover.
        public static let notCovered = Code(name: "notCovered")
        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// For ``Code/notCovered``: the year that is missing.
    public let year: Int?

    public init(_ code: Code, _ message: String, year: Int? = nil) {
        self.code = code
        self.message = message
        self.year = year
    }

    public var description: String { "CalendarError.\(code): \(message)" }
}
