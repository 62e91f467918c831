import CaseLedger
import CaseLedgerWorkflow
import Testing
import _CaseLedgerTestSupport

/// legal-rules.md §3: how periods are counted, on the shipped holiday calendar.
@Suite struct PeriodCountingTests {
    let calendar: HolidayCalendar

    init() throws {
        calendar = try HolidayCalendar.chinaMainland()
    }

    @Test("The shipped calendar covers 2024–2026 with every notice's rest and swapped working days")
    func shippedCalendar() throws {
        #expect(calendar.coveredYears == 2024...2026)
        #expect(calendar.years[2024]?.restDays.count == 30)
        #expect(calendar.years[2024]?.workingDays.count == 8)
        #expect(calendar.years[2025]?.restDays.count == 28)
        #expect(calendar.years[2025]?.workingDays.count == 5)
        #expect(calendar.years[2026]?.restDays.count == 33)
        #expect(calendar.years[2026]?.workingDays.count == 6)
        #expect(calendar.years[2026]?.notice == "国办发明电〔2025〕7号")
        // National Day 2025 is a rest day; the swapped Sunday 2025-09-28 is a working day.
        #expect(try calendar.isWorkingDay(County.date(2025, 10, 1)) == false)
        #expect(try calendar.isWorkingDay(County.date(2025, 9, 28)) == true)
        #expect(try calendar.isWorkingDay(County.date(2025, 9, 27)) == false)
    }

    @Test("§3.1: the start day is not counted; the last day ends at 24:00 local")
    func startDayExcluded() throws {
        // Monday 2025-03-03 + 7 days: last day Monday 03-10, ending at 2025-03-11T00:00+08:00.
        let end = try calendar.end(of: .days(7), from: County.at(2025, 3, 3, hour: 23))
        #expect(end.nominalLastDay == County.date(2025, 3, 10))
        #expect(end.dueAt == LegalTime.startOf(County.date(2025, 3, 11)))
        #expect(end.dueAt.description == "2025-03-11T00:00:00+08:00")
    }

    @Test("§3.2: a month period ends on the corresponding day, or the month's last day")
    func monthEnds() throws {
        #expect(
            try calendar.end(of: .months(1), from: County.at(2025, 1, 31)).nominalLastDay == County.date(2025, 2, 28))
        #expect(
            try calendar.end(of: .months(1), from: County.at(2024, 1, 31)).nominalLastDay == County.date(2024, 2, 29))
        #expect(
            try calendar.end(of: .months(1), from: County.at(2025, 3, 15)).nominalLastDay == County.date(2025, 4, 15))
        #expect(County.date(2024, 2, 29).adding(months: 12) == County.date(2025, 2, 28))
    }

    @Test("§3.3: a period ending on a holiday ends on the first day after it")
    func holidayRollForward() throws {
        // 60 days from 2025-08-02 end nominally on 2025-10-01, inside the National Day block (10-01…10-08).
        let end = try calendar.end(of: .days(60), from: County.at(2025, 8, 2))
        #expect(end.nominalLastDay == County.date(2025, 10, 1))
        #expect(end.dueAt == LegalTime.endOf(County.date(2025, 10, 9)))
    }

    @Test("§3.8 (UNVERIFIED, a setting): an ordinary weekend rolls forward; a swapped working weekend does not")
    func weekendRollForwardSetting() throws {
        // 2025-03-01 + 7 days = Saturday 03-08.
        let rolled = try calendar.end(of: .days(7), from: County.at(2025, 3, 1))
        #expect(rolled.dueAt == LegalTime.endOf(County.date(2025, 3, 10)))
        var strict = calendar
        strict.weekendsRollForward = false
        #expect(
            try strict.end(of: .days(7), from: County.at(2025, 3, 1)).dueAt == LegalTime.endOf(County.date(2025, 3, 8)))
        // 2025-09-21 + 7 = Sunday 09-28, a swapped working day: no roll-forward.
        #expect(
            try calendar.end(of: .days(7), from: County.at(2025, 9, 21)).dueAt
                == LegalTime.endOf(County.date(2025, 9, 28)))
    }

    @Test("§3.5, AR10: working days skip weekends and holidays and count swapped working weekends")
    func workingDays() throws {
        // From Friday 2025-09-26: Sun 09-28 (swapped, 1), Mon 09-29 (2), Tue 09-30 (3), holidays to 10-08,
        // Thu 10-09 (4), Fri 10-10 (5).
        let end = try calendar.end(of: .workingDays(5), from: County.at(2025, 9, 26))
        #expect(end.nominalLastDay == County.date(2025, 10, 10))
        #expect(try calendar.workingDays(after: County.date(2025, 9, 26), through: County.date(2025, 10, 10)) == 5)
    }

    @Test("Hour periods run from the next whole hour")
    func hours() throws {
        let end = try calendar.end(of: .hours(24), from: County.at(2025, 3, 3, hour: 9).adding(hours: 0))
        #expect(end.dueAt == County.at(2025, 3, 4, hour: 9))
        let late = Instant(microsecondsSinceEpoch: County.at(2025, 3, 3, hour: 9).microsecondsSinceEpoch + 60_000_000)
        #expect(try calendar.end(of: .hours(24), from: late).dueAt == County.at(2025, 3, 4, hour: 10))
    }

    @Test("A pause is excluded from the period, counted as the period counts")
    func pauseAndResume() throws {
        let end = try calendar.end(of: .days(30), from: County.at(2025, 3, 3))
        #expect(end.nominalLastDay == County.date(2025, 4, 2))
        let resumed = try calendar.resume(
            end, unit: .days, pausedAt: County.at(2025, 3, 10), resumedAt: County.at(2025, 3, 20))
        #expect(resumed.nominalLastDay == County.date(2025, 4, 12))
        // Saturday 04-12 rolls forward to Monday 04-14.
        #expect(resumed.dueAt == LegalTime.endOf(County.date(2025, 4, 14)))
        let wd = try calendar.end(of: .workingDays(5), from: County.at(2025, 3, 3))
        let wdResumed = try calendar.resume(
            wd, unit: .workingDays, pausedAt: County.at(2025, 3, 4), resumedAt: County.at(2025, 3, 6))
        #expect(wd.nominalLastDay == County.date(2025, 3, 10))
        #expect(wdResumed.nominalLastDay == County.date(2025, 3, 12))
    }

    @Test("A deadline past the calendar's last year is an explicit error, never a guess")
    func notCovered() throws {
        #expect {
            _ = try calendar.end(of: .days(60), from: County.at(2026, 12, 1))
        } throws: { error in
            (error as? CalendarError)?.code == .notCovered && (error as? CalendarError)?.year == 2027
        }
    }

    @Test("Calendar data is checked: a weekday listed as a swapped working day is refused")
    func badCalendarData() throws {
        let yaml = """
            2025:
              rest_days: [2025-01-01]
              working_days: [2025-01-02]
              notice: "test"
            """
        #expect(throws: CalendarError.self) { try HolidayCalendar(yaml: yaml) }
        let good = try HolidayCalendar(
            yaml: "2025:\n  rest_days: [2025-01-01]\n  working_days: [2025-01-26]\n  notice: x\n")
        #expect(good.coveredYears == 2025...2025)
    }

    @Test("Civil dates round-trip through day numbers and weekdays are right")
    func civilDates() throws {
        for n in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CivilDate(dayNumber: n).dayNumber == n)
        }
        #expect(County.date(2026, 11, 23).isoWeekday == 1)
        #expect(County.date(1970, 1, 1).isoWeekday == 4)
        #expect(CivilDate("2025-02-29") == nil)
        // Digits only: `Int` would read "+6" or "-1" as numbers.
        for text in ["2025-+6-01", "+025-01-01", "2025-06-+1", "2025--6-01", "2025-06-1 ", "２０２５-06-01"] {
            #expect(CivilDate(text) == nil, "\(text)")
        }
        #expect(CivilDate("2025-06-01") == County.date(2025, 6, 1))
        #expect(LegalTime.date(of: LegalTime.startOf(County.date(2025, 1, 1))) == County.date(2025, 1, 1))
    }
}
