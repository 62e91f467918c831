// The holiday calendar CaseLedger ships: a copy of the State Council notices for 2024–2026 (with their sources,
// as verified in the project's calendar research). Replace it with `HolidayCalendar(yaml:)` when a new notice is
// published; add a year only after its notice is out.

/// The shipped calendar data, as YAML.
let chinaMainlandHolidaysYAML = #"""
    # China (mainland) public-holiday arrangements, from the yearly State Council
    # General Office notice 国务院办公厅关于20XX年部分节假日安排的通知.
    #
    # rest_days:    every day off in each holiday block, including the weekend
    #               days that fall inside the block (放假 / 放假调休 / 与周末连休).
    # working_days: swapped working weekend days (调休上班).
    # Dates are ISO 8601, Asia/Shanghai. Years are keyed by calendar year; a block
    # that starts in the previous December is listed under that earlier year.
    # See README.md beside this file for sources and verification status.

    # Source: https://www.gov.cn/zhengce/content/202511/content_7047090.htm
    # Reprint checked (Xinhua full text): https://politics.gmw.cn/2025-11/04/content_38391083.htm
    # Issued 2025-11-04.
    #   元旦   01-01 (Thu) .. 01-03 (Sat), 3 days; work Sun 01-04
    #   春节   02-15 (Sun, 腊月二十八) .. 02-23 (Mon, 正月初七), 9 days; work Sat 02-14, Sat 02-28
    #   清明节 04-04 (Sat) .. 04-06 (Mon), 3 days
    #   劳动节 05-01 (Fri) .. 05-05 (Tue), 5 days; work Sat 05-09
    #   端午节 06-19 (Fri) .. 06-21 (Sun), 3 days
    #   中秋节 09-25 (Fri) .. 09-27 (Sun), 3 days
    #   国庆节 10-01 (Thu) .. 10-07 (Wed), 7 days; work Sun 09-20, Sat 10-10
    2026:
      rest_days: [2026-01-01, 2026-01-02, 2026-01-03,
                  2026-02-15, 2026-02-16, 2026-02-17, 2026-02-18, 2026-02-19,
                  2026-02-20, 2026-02-21, 2026-02-22, 2026-02-23,
                  2026-04-04, 2026-04-05, 2026-04-06,
                  2026-05-01, 2026-05-02, 2026-05-03, 2026-05-04, 2026-05-05,
                  2026-06-19, 2026-06-20, 2026-06-21,
                  2026-09-25, 2026-09-26, 2026-09-27,
                  2026-10-01, 2026-10-02, 2026-10-03, 2026-10-04, 2026-10-05,
                  2026-10-06, 2026-10-07]
      working_days: [2026-01-04, 2026-02-14, 2026-02-28, 2026-05-09, 2026-09-20, 2026-10-10]
      notice: "国办发明电〔2025〕7号"

    # Source: https://www.gov.cn/zhengce/content/202411/content_6986382.htm
    # Reprint checked (Xinhua full text): https://m.gmw.cn/2024-11/12/content_1303894933.htm
    # Issued 2024-11-12. First year under the revised 全国年节及纪念日放假办法
    # (in force 2025-01-01): 除夕 and 5月2日 become statutory holidays.
    #   元旦          01-01 (Wed), 1 day, no swap
    #   春节          01-28 (Tue, 除夕) .. 02-04 (Tue, 正月初七), 8 days; work Sun 01-26, Sat 02-08
    #   清明节        04-04 (Fri) .. 04-06 (Sun), 3 days
    #   劳动节        05-01 (Thu) .. 05-05 (Mon), 5 days; work Sun 04-27
    #   端午节        05-31 (Sat) .. 06-02 (Mon), 3 days
    #   国庆节、中秋节 10-01 (Wed) .. 10-08 (Wed), 8 days; work Sun 09-28, Sat 10-11
    2025:
      rest_days: [2025-01-01,
                  2025-01-28, 2025-01-29, 2025-01-30, 2025-01-31, 2025-02-01,
                  2025-02-02, 2025-02-03, 2025-02-04,
                  2025-04-04, 2025-04-05, 2025-04-06,
                  2025-05-01, 2025-05-02, 2025-05-03, 2025-05-04, 2025-05-05,
                  2025-05-31, 2025-06-01, 2025-06-02,
                  2025-10-01, 2025-10-02, 2025-10-03, 2025-10-04, 2025-10-05,
                  2025-10-06, 2025-10-07, 2025-10-08]
      working_days: [2025-01-26, 2025-02-08, 2025-04-27, 2025-09-28, 2025-10-11]
      notice: "国办发明电〔2024〕12号"

    # Source: https://www.gov.cn/zhengce/content/202310/content_6911527.htm
    # Reprint checked (People's Daily, 2023-10-26, p.6):
    #   http://paper.people.com.cn/rmrb/html/2023-10/26/nw.D110000renmrb_20231026_3-06.htm
    # Issued 2023-10-25. Old rules (春节 3 statutory days, 劳动节 1).
    #   元旦   01-01 (Mon) 放假，与周末连休 (block 2023-12-30 .. 2024-01-01;
    #          the two 2023 days belong to 2023 and are not listed here)
    #   春节   02-10 .. 02-17, 8 days; work Sun 02-04, Sun 02-18
    #          (除夕 02-09 is only "encouraged" as leave, not a rest day)
    #   清明节 04-04 .. 04-06, 3 days; work Sun 04-07
    #   劳动节 05-01 .. 05-05, 5 days; work Sun 04-28, Sat 05-11
    #   端午节 06-10 (Mon) 放假，与周末连休 (block 06-08 .. 06-10)
    #   中秋节 09-15 .. 09-17, 3 days; work Sat 09-14
    #   国庆节 10-01 .. 10-07, 7 days; work Sun 09-29, Sat 10-12
    2024:
      rest_days: [2024-01-01,
                  2024-02-10, 2024-02-11, 2024-02-12, 2024-02-13, 2024-02-14,
                  2024-02-15, 2024-02-16, 2024-02-17,
                  2024-04-04, 2024-04-05, 2024-04-06,
                  2024-05-01, 2024-05-02, 2024-05-03, 2024-05-04, 2024-05-05,
                  2024-06-08, 2024-06-09, 2024-06-10,
                  2024-09-15, 2024-09-16, 2024-09-17,
                  2024-10-01, 2024-10-02, 2024-10-03, 2024-10-04, 2024-10-05,
                  2024-10-06, 2024-10-07]
      working_days: [2024-02-04, 2024-02-18, 2024-04-07, 2024-04-28, 2024-05-11,
                     2024-09-14, 2024-09-29, 2024-10-12]
      notice: "国办发明电〔2023〕7号"
    """#
