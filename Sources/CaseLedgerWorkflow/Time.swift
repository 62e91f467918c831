/// A moment in time: microseconds since 1970-01-01T00:00:00Z. The workflow never reads a clock; every command
/// carries the instant it happens at, given by the caller's injected clock.
public struct Instant: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch (UTC).
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public init(from decoder: any Decoder) throws {
        microsecondsSinceEpoch = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(microsecondsSinceEpoch)
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    static let microsecondsPerHour: Int64 = 3_600_000_000
    static let microsecondsPerDay: Int64 = 86_400_000_000

    /// The instant `hours` later.
    public func adding(hours: Int64) -> Instant {
        Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + hours * Instant.microsecondsPerHour)
    }

    /// The instant `days` × 24 hours later.
    public func adding(days: Int64) -> Instant {
        Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + days * Instant.microsecondsPerDay)
    }

    /// Whether the instant lies between 1900 and 2200: commands carrying instants outside are refused, so date
    /// arithmetic on them cannot overflow.
    public var isPlausible: Bool {
        microsecondsSinceEpoch >= -2_208_988_800_000_000 && microsecondsSinceEpoch < 7_258_118_400_000_000
    }

    /// ISO 8601 in the legal time zone (Asia/Shanghai, UTC+08:00), e.g. `2026-03-01T09:30:00+08:00`.
    public var description: String {
        isPlausible ? LegalTime.format(self) : "\(microsecondsSinceEpoch) µs since 1970 (not a plausible date)"
    }
}

/// A calendar date with no time of day (proleptic Gregorian), as the law counts periods.
public struct CivilDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Creates a date; `nil` when the month or day does not exist.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`; `nil` when the text is not a valid date.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        // ASCII digits only: `Int` alone would take "+6" for a month.
        guard parts.count == 3, parts[0].utf8.count == 4, parts[1].utf8.count == 2, parts[2].utf8.count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The date `dayNumber` days after 1970-01-01 (negative before it).
    public init(dayNumber: Int) {
        // Civil-from-days over 400-year eras (Gregorian calendar).
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        month = m
        day = d
    }

    /// Days since 1970-01-01.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var isoWeekday: Int {
        let w = (dayNumber + 3) % 7  // 1970-01-01 was a Thursday (ISO 4).
        return (w < 0 ? w + 7 : w) + 1
    }

    /// Saturday or Sunday.
    public var isWeekend: Bool { isoWeekday >= 6 }

    public func adding(days: Int) -> CivilDate { CivilDate(dayNumber: dayNumber + days) }

    /// The corresponding day `months` later; the month's last day when that day does not exist (Civil Code
    /// Art 202).
    public func adding(months: Int) -> CivilDate {
        let index = year * 12 + (month - 1) + months
        let y = index >= 0 ? index / 12 : (index - 11) / 12
        let m = index - y * 12 + 1
        let d = min(day, CivilDate.daysIn(month: m, year: y))
        return CivilDate(uncheckedYear: y, month: m, day: d)
    }

    private init(uncheckedYear: Int, month: Int, day: Int) {
        self.year = uncheckedYear
        self.month = month
        self.day = day
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.dayNumber < rhs.dayNumber }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = CivilDate(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a date in the form YYYY-MM-DD")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The legal time zone: China Standard Time, UTC+08:00 all year (no daylight saving since 1991). Dates of
/// periods are the local dates of this zone.
public enum LegalTime {
    /// The zone's offset from UTC.
    public static let offsetHours: Int64 = 8

    /// The local date of an instant.
    public static func date(of instant: Instant) -> CivilDate {
        let (shifted, overflow) = instant.microsecondsSinceEpoch.addingReportingOverflow(
            offsetHours * Instant.microsecondsPerHour)
        let local = overflow ? Int64.max - Instant.microsecondsPerDay : shifted
        let days = local >= 0 ? local / Instant.microsecondsPerDay : (local + 1) / Instant.microsecondsPerDay - 1
        return CivilDate(dayNumber: Int(days))
    }

    /// The instant a local date starts (00:00 local).
    public static func startOf(_ date: CivilDate) -> Instant {
        Instant(
            microsecondsSinceEpoch: Int64(date.dayNumber) * Instant.microsecondsPerDay - offsetHours
                * Instant.microsecondsPerHour)
    }

    /// The instant a local date ends (24:00 local, the start of the next day): a period's last day ends then
    /// (Civil Code Art 203).
    public static func endOf(_ date: CivilDate) -> Instant { startOf(date.adding(days: 1)) }

    /// A local date and time: `hour` and `minute` on `date`.
    public static func instant(_ date: CivilDate, hour: Int = 0, minute: Int = 0) -> Instant {
        Instant(
            microsecondsSinceEpoch: startOf(date).microsecondsSinceEpoch + Int64(hour) * Instant.microsecondsPerHour
                + Int64(minute) * 60_000_000)
    }

    /// ISO 8601 with the +08:00 offset, to the second.
    public static func format(_ instant: Instant) -> String {
        let date = Self.date(of: instant)
        let intoDay = instant.microsecondsSinceEpoch - startOf(date).microsecondsSinceEpoch
        let seconds = Int(intoDay / 1_000_000)
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(date)T\(pad(seconds / 3600)):\(pad(seconds / 60 % 60)):\(pad(seconds % 60))+08:00"
    }
}
