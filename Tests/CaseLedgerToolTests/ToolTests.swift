import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation
import Logging
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// The `caseledger` tool, run as a subprocess exactly as an operator runs it.
@Suite("caseledger tool")
struct ToolTests {
    struct Run {
        var status: Int32
        var output: String
        var error: String

        /// The output's lines parsed as JSON objects.
        var objects: [[String: Any]] {
            output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    /// The tool, built beside the test bundle.
    static var toolPath: String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("caseledger").path
    }

    /// Runs `caseledger arguments…`, feeding `input` on standard input.
    static func tool(_ arguments: [String], input: String? = nil, bytes: Data? = nil) throws -> Run {
        try run(toolPath, arguments, input: input.map { Data($0.utf8) } ?? bytes)
    }

    static func run(_ path: String, _ arguments: [String], input: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a full pipe never blocks the child.
        let errorData = Mutex(Data())
        let done = DispatchGroup()
        let errorHandle = error.fileHandleForReading
        DispatchQueue.global().async(group: done) {
            let data = errorHandle.readDataToEndOfFile()
            errorData.withLock { $0 = data }
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        done.wait()
        return Run(
            status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
            error: String(decoding: errorData.withLock { $0 }, as: UTF8.self))
    }

    /// Zeroes a page in the middle of the store's file: LMDB trusts its pages, and stops on it or reports it.
    static func zeroAPageInTheMiddle(of store: String) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: store + "/data.mdb"))
        let pages = try handle.seekToEnd() / 4096
        try handle.seek(toOffset: pages / 2 * 4096)
        try handle.write(contentsOf: Data(count: 4096))
        try handle.close()
    }

    /// A small simulated county-year, shared by the read-only tests (written once per test that asks).
    static func simulated(_ directory: TemporaryDirectory, cases: Int = 240, seed: Int = 3) throws -> String {
        let store = directory.appending("store-\(seed)")
        let run = try tool(["simulate", "--store", store, "--cases", "\(cases)", "--seed", "\(seed)", "--json"])
        #expect(run.status == 0, "simulate failed: \(run.error)")
        let summary = try #require(run.objects.first)
        #expect(summary["cases"] as? Int == cases)
        #expect((summary["refused"] as? [String: Int])?.isEmpty == true, "the scripts broke a rule: \(run.output)")
        return store
    }

    @Test("simulate → stats → replay → verify round trip")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory)

            // The monthly statistics agree with the log: June's registrations, counted from the exported events.
            let stats = try Self.tool(["stats", "--store", store, "--month", "2025-06", "--format", "json"])
            #expect(stats.status == 0, "\(stats.error)")
            let figures = try #require(stats.objects.first)
            let export = try Self.tool(
                ["export", "--store", store, "--from", "2025-06-01", "--to", "2025-07-01"])
            #expect(export.status == 0, "\(export.error)")
            let registered = export.objects.filter { $0["type"] as? String == "registered" }.count
            #expect(registered > 0)
            #expect(figures["registered"] as? Int == registered)
            // A kind filter with a time range still knows the kind of cases registered before the range.
            let aidInJune = try Self.tool(
                ["export", "--store", store, "--kind", "legalAid", "--from", "2025-06-01", "--to", "2025-07-01"])
            let aidAll = try Self.tool(["export", "--store", store, "--kind", "legalAid"]).objects
            let juneOfAll = aidAll.filter { ($0["recordedAt"] as? String)?.hasPrefix("2025-06") == true }
            #expect(!juneOfAll.isEmpty)
            #expect(aidInJune.objects.count == juneOfAll.count)
            #expect(aidInJune.objects.allSatisfy { $0["kind"] as? String == "legalAid" })
            // CSV: the same figures; a unit filter keeps only that unit's events.
            let csv = try Self.tool(["stats", "--store", store, "--month", "2025-06", "--format", "csv"])
            #expect(csv.output.split(separator: "\n").contains("registered,\(registered)"))
            let unit = try #require(aidInJune.objects.first?["unit"] as? String)
            let byUnit = try Self.tool(
                [
                    "export", "--store", store, "--unit", unit, "--format", "csv", "--from", "2025-06-01", "--to",
                    "2025-07-01",
                ])
            let rows = byUnit.output.split(separator: "\n").dropFirst()
            #expect(
                byUnit.output.hasPrefix(
                    "position,recordedAt,stream,case,version,type,actor,unit,kind,id,chainHash,event\n"))
            #expect(rows.count == export.objects.filter { $0["unit"] as? String == unit }.count)
            #expect(rows.allSatisfy { $0.split(separator: ",")[7] == unit })
            // Every figure the tool prints is the library's own (the view read directly, with the store's key).
            let library = try Self.libraryStatistics(store: store, month: "2025-06")
            #expect(figures["closed"] as? Int == library.closed)
            #expect(figures["evaluations"] as? Int == library.evaluations)
            #expect(figures["escalations"] as? Int == library.escalations)
            #expect(figures["highRiskReports"] as? Int == library.highRiskReports)
            #expect(figures["legalAidApproved"] as? Int == library.legalAidApproved)
            #expect(figures["legalAidDenied"] as? Int == library.legalAidDenied)
            #expect(
                figures["mediationSuccessRate"] as? Double
                    == library.mediationSuccessRate.map { ($0 * 10_000).rounded() / 10_000 })
            #expect(
                figures["satisfactionRate"] as? Double
                    == library.satisfactionRate.map { ($0 * 10_000).rounded() / 10_000 })
            for route in Route.allCases {
                #expect(figures["referrals.\(route.rawValue)"] as? Int == library.referrals[route] ?? 0)
            }
            #expect(library.closed > 0 && library.evaluations > 0)
            let table = try Self.tool(["stats", "--store", store, "--month", "2025-06"])
            #expect(table.output.contains("Mediation success rate"))
            #expect(table.output.contains("Registered"))

            // An escalated case's timeline: the escalation, the level after it, and the state as it was before.
            let summary = try Self.tool(["verify", "--store", store, "--json"])
            #expect(summary.status == 0, "\(summary.error)")
            #expect(summary.objects.first?["ok"] as? Bool == true)
            #expect(summary.objects.first?["cases"] as? Int ?? 0 >= 240)

            let all = try Self.tool(["export", "--store", store])
            let escalation = try #require(all.objects.first { $0["type"] as? String == "escalated" })
            let caseID = try #require(escalation["case"] as? String)
            let replay = try Self.tool(["replay", "--store", store, "--case", caseID, "--json"])
            #expect(replay.status == 0, "\(replay.error)")
            let timeline = try #require(replay.objects.first?["events"] as? [[String: Any]])
            let index = try #require(timeline.firstIndex { $0["event"] as? String == "escalated" })
            #expect(timeline[0]["event"] as? String == "registered")
            #expect(timeline[0]["level"] as? String == "village")
            #expect(timeline[index]["level"] as? String != "village")
            #expect((timeline[index]["sentence"] as? String)?.hasPrefix("Escalated from village") == true)
            #expect(
                timeline.map { $0["position"] as? Int ?? 0 } == timeline.map { $0["position"] as? Int ?? 0 }.sorted())
            // The last event strictly before the escalation (a jump can share its instant with the event before it).
            let escalatedAt = try #require(timeline[index]["at"] as? String)
            let before = try #require(
                timeline[..<index].last { ($0["at"] as? String ?? "") < escalatedAt }?["at"] as? String)
            let earlier = try Self.tool(["replay", "--store", store, "--case", caseID, "--json", "--at", before])
            let then = try #require(earlier.objects.first)
            #expect((then["events"] as? [Any])?.count ?? 0 < timeline.count)
            #expect((then["state"] as? [String: Any])?["level"] as? String == "village")

            let human = try Self.tool(["replay", "--store", store, "--case", caseID])
            #expect(human.output.contains("STATE AFTER"))
            #expect(human.output.contains("Escalated from village"))
        }
    }

    @Test("the same seed gives the same caseload")
    func simulationIsDeterministic() async throws {
        try await withTemporaryDirectory { directory in
            let first = try Self.simulated(directory, cases: 80, seed: 11)
            let second = directory.appending("again")
            let run = try Self.tool(["simulate", "--store", second, "--cases", "80", "--seed", "11", "--json"])
            #expect(run.status == 0, "\(run.error)")
            // Event ids are random per record; everything else (times, streams, contents, order) repeats.
            func contents(_ store: String) throws -> [String] {
                try Self.tool(["export", "--store", store]).objects.map { object in
                    let event = object["event"].flatMap {
                        try? JSONSerialization.data(withJSONObject: $0, options: .sortedKeys)
                    }
                    return "\(object["position"] ?? "") \(object["recordedAt"] ?? "") \(object["stream"] ?? "") "
                        + String(decoding: event ?? Data(), as: UTF8.self)
                }
            }
            let a = try contents(first)
            #expect(a.count > 500)
            #expect(a == (try contents(second)))
            let yaml = try String(contentsOfFile: first + "/directory.yaml", encoding: .utf8)
            #expect(yaml == (try String(contentsOfFile: second + "/directory.yaml", encoding: .utf8)))
            let other = directory.appending("other")
            _ = try Self.tool(["simulate", "--store", other, "--cases", "80", "--seed", "12"])
            #expect(a != (try contents(other)))
        }
    }

    /// The six built-in views of a store the tool wrote, with its `party.key`, all in one mode.
    static func builtInViews(store: String, _ mode: ProjectionRuntime.Mode) throws -> [(
        any Projection, ProjectionRuntime.Mode
    )] {
        let hex = try String(contentsOfFile: store + "/party.key", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var key: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            key.append(try #require(UInt8(hex[index..<next], radix: 16)))
            index = next
        }
        return [
            (CaseSummaryProjection(), mode), (DeadlinesProjection(), mode), (BoardProjection(), mode),
            (MonthlyStatisticsProjection(), mode), (WorkloadProjection(), mode),
            (try RepeatDisputesProjection(partyKey: key), mode),
        ]
    }

    /// The monthly statistics of the whole store, read through the library, not the tool.
    static func libraryStatistics(store: String, month: String) throws -> MonthlyStatistics {
        let log = try LMDBEventLog.open(at: store)
        defer { log.close() }
        let runtime = try ProjectionRuntime(
            log: log, projections: try builtInViews(store: store, .async), logger: Logger(label: "test"))
        defer { runtime.shutdown() }
        let city = try #require(DivisionCode("511100000000"))
        return try MonthlyStatisticsProjection.statistics(month: month, under: city, in: runtime)
    }

    /// The fixture county's directory as the YAML `exec --directory` reads.
    static let directoryYAML = """
        units:
          - {id: v1, name: Village 1 committee, kind: mediationCommittee, division: "511124101001"}
          - {id: t1, name: Township 1 committee, kind: mediationCommittee, division: "511124101000"}
          - {id: aid, name: County legal aid centre, kind: legalAidCentre, division: "511124000000"}
          - {id: review, name: County review body, kind: reviewBody, division: "511124000000"}
          - {id: court, name: County court, kind: court, division: "511124000000"}
        persons:
          - {id: m-v1, name: Mediator V1, roles: [mediator, staff], units: [v1]}
          - {id: m-t1, name: Mediator T1, roles: [mediator, staff], units: [t1]}
          - {id: aid-staff, name: Aid officer, roles: [staff], units: [aid]}
          - {id: review-officer, name: Review officer, roles: [staff, adjudicator], units: [review]}
          - {id: court-clerk, name: Court clerk, roles: [staff], units: [court]}
        """

    /// Writes ``directoryYAML`` into `directory` and returns the file's path.
    static func countyFile(in directory: TemporaryDirectory) throws -> String {
        let file = directory.appending("county.yaml")
        try directoryYAML.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    static func register(_ id: String, marker: String = "院墙渗水") -> String {
        """
        {"case":"\(id)","actor":"m-v1","command":{"register":{"registration":{"kind":"peopleMediation","channel":"window",\
        "unit":"v1","owner":"m-v1","division":"511124101001","parties":[{"reference":"p-a","name":"张三","role":"applicant"},\
        {"reference":"p-b","name":"李四","role":"respondent"}],"disputeType":"neighbour","summary":"\(marker)",\
        "arbitrationAgreement":false,"links":[]}}}}
        """
    }

    @Test("a server's inline views keep up after another process (caseledger views rebuild) swaps in a generation")
    func inlineViewsKeepUpAfterARebuildByAnotherProcess() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 30, seed: 11)
            let log = try LMDBEventLog.open(at: store)
            defer { log.close() }
            let runtime = try ProjectionRuntime(
                log: log, projections: try Self.builtInViews(store: store, .inline), logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try runtime.catchUp()
            let before = try runtime.status()
            // Another process rebuilds every view while this one has the store open.
            let rebuild = try Self.tool(["views", "rebuild", "--store", store])
            #expect(rebuild.status == 0, "\(rebuild.error)")
            // This process appends: its inline views open the new generation inside the commit.
            _ = try await log.append(to: "note-1", events: [Fixtures.event("Note")])
            let head = try log.head().position
            for (old, new) in zip(before, try runtime.status()) {
                #expect(new.generation == old.generation + 1 && new.checkpoint == head && new.lag == 0, "\(new)")
            }
            #expect(try runtime.checkAll().allSatisfy(\.isConsistent))
        }
    }

    /// A server keeps the store open for months while `caseledger views rebuild` runs beside it now and then. Each
    /// rebuild by another process retires a generation whose table handles this process had opened; LMDB has room
    /// for 128 open tables, so the handles of retired generations must be closed, or the fourteenth rebuild or so
    /// leaves the server unable to open the new generation's tables.
    ///
    /// Async views open the new tables when they catch up and are queried; inline views, in the commit that first
    /// meets the new generation, even in a process that never queries them.
    @Test(arguments: [ProjectionRuntime.Mode.async, .inline])
    func aLongRunningProcessSurvivesManyRebuildsByAnotherProcess(mode: ProjectionRuntime.Mode) async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 10, seed: 12)
            let log = try LMDBEventLog.open(at: store)
            defer { log.close() }
            let runtime = try ProjectionRuntime(
                log: log, projections: try Self.builtInViews(store: store, mode), logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            try runtime.catchUp()
            for round in 1...15 {
                let rebuild = try Self.tool(["views", "rebuild", "--store", store])
                #expect(rebuild.status == 0, "\(rebuild.error)")
                _ = try await log.append(to: "note-\(round)", events: [Fixtures.event("Note")])
                if mode == .async {
                    // Catch-up and a query of every view open the new generation's tables.
                    try runtime.catchUp()
                    for status in try runtime.status() { _ = try runtime.read(status.name) { _ in true } }
                }
                runtime.waitForHandleClosing()
                for status in try runtime.status() {
                    #expect(status.generation == round + 1 && status.lag == 0, "round \(round): \(status)")
                }
            }
            #expect(try runtime.checkAll().allSatisfy(\.isConsistent))
        }
    }

    @Test("exec answers each line as it arrives on a pipe that stays open")
    func execAnswersEachLineAsItArrives() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.toolPath)
            process.arguments = ["exec", "--store", store, "--directory", yaml, "--beyond-calendar", "provisional"]
            let (input, output) = (Pipe(), Pipe())
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // A caller that sends one line and waits for its result before sending the next.
            var answers: [String] = []
            for id in ["2026-000001", "2026-000002"] {
                input.fileHandleForWriting.write(Data((Self.register(id) + "\n").utf8))
                let answered = DispatchSemaphore(value: 0)
                let line = Mutex("")
                let reader = output.fileHandleForReading
                DispatchQueue.global().async {
                    var bytes = Data()
                    while !bytes.contains(UInt8(ascii: "\n")) {
                        let chunk = reader.availableData
                        if chunk.isEmpty { break }
                        bytes.append(chunk)
                    }
                    line.withLock { $0 = String(decoding: bytes, as: UTF8.self) }
                    answered.signal()
                }
                let waited = answered.wait(timeout: .now() + 30)
                #expect(waited == .success, "no answer to the line for \(id) while the input stayed open")
                guard waited == .success else {
                    process.terminate()
                    try input.fileHandleForWriting.close()
                    process.waitUntilExit()
                    return
                }
                answers.append(line.withLock { $0 })
            }
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(answers.count == 2 && answers.allSatisfy { $0.contains("\"ok\":true") }, "\(answers)")
        }
    }

    @Test("exec runs good lines, reports bad ones by line number, and never half-applies a line")
    func execGoodAndBadLines() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            let lines = [
                Self.register("2026-000001"),
                #"{"case":"2026-000001","actor":"m-v1","command":{"refuseMediation":{"party":"p-b"}}}"#,
                "",
                #"{"case":"2026-000001","actor":"m-v1","command":{"startMediation":{"mediators":["m-v1"],"chosenByParties":false}}}"#,
                #"{"case":"2026-000001","actor":"m-v1","command":{"flyToTheMoon":{}}}"#,
                "this is not json",
                #"{"case":"2026-000001","command":{"supplyMaterials":{}}}"#,
                #"{"case":"2026-000001","actor":"system","command":{"deemAccept":{}}}"#,
                Self.register("2026-000002"),
                Self.register("2026-000002"),
                "   ",
                Self.register("2026-000009", marker: "BAD"),
                Self.register("2026-000003"),
                #"{"case":"2026-000003","actor":"m-v1","command":{"startMediation":{"mediators":["m-v1"],"chosenByParties":false}}}"#,
                #"{"case":"2026-000003","actor":"m-v1","command":{"declareFailure":{"rightsNotice":"告知","suggestedRoute":"civilLitigation"}}}"#,
                // A referral to a case id that exists: refused as a whole, the mediation case does not close.
                #"{"case":"2026-000003","actor":"m-v1","command":{"refer":{"referral":{"route":"civilLitigation","newCase":"2026-000002","toUnit":"court","toPerson":"court-clerk"}}}}"#,
            ]
            // Line 12 carries bytes that are not UTF-8 (0xFF in place of the summary's marker).
            var input = Data((lines.joined(separator: "\n") + "\n").utf8)
            let marker = Data("BAD".utf8)
            let at = try #require(input.range(of: marker))
            input.replaceSubrange(at, with: Data([0x42, 0xFF, 0x44]))
            // Calendar: a case registered late in 2026 has clocks running into 2027, which the shipped calendar does
            // not cover yet.
            let run = try Self.tool(
                ["exec", "--store", store, "--directory", yaml, "--beyond-calendar", "provisional"], bytes: input)
            #expect(run.status == 1, "a failed line makes the exit status 1")
            let results = run.objects
            #expect(results.map { $0["line"] as? Int ?? 0 } == [1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16])
            #expect(
                results.map { $0["ok"] as? Bool ?? false } == [
                    true, true, false, false, false, false, false, true, false, false, true, true, true, false,
                ])
            func error(_ line: Int) -> [String: Any] {
                results.first { $0["line"] as? Int == line }?["error"] as? [String: Any] ?? [:]
            }
            #expect(error(4)["code"] as? String == "ruleViolation")
            #expect(error(4)["rule"] as? String == "PM4")
            #expect(error(5)["code"] as? String == "invalidLine")
            #expect(error(6)["code"] as? String == "invalidLine")
            #expect((error(7)["message"] as? String)?.contains("actor") == true)
            #expect(error(8)["code"] as? String == "notAuthorized")
            #expect(error(10)["code"] as? String == "caseExists")
            #expect(error(12)["code"] as? String == "invalidLine")
            #expect((error(12)["message"] as? String)?.contains("not valid UTF-8") == true)
            #expect(error(16)["code"] as? String == "caseExists")
            let first = try #require(results.first)
            #expect(first["command"] as? String == "register")
            #expect((first["events"] as? [[String: Any]])?.first?["event"] as? String == "registered")

            // Refused lines wrote nothing: the log holds exactly the events of the three good lines.
            let written = results.filter { $0["ok"] as? Bool == true }.flatMap { $0["events"] as? [Any] ?? [] }.count
            let export = try Self.tool(["export", "--store", store])
            #expect(export.objects.filter { ($0["stream"] as? String)?.hasPrefix("case-") == true }.count == written)
            let verify = try Self.tool(["verify", "--store", store])
            #expect(verify.status == 0, "\(verify.error)")

            // An idempotency key repeated: the second line writes nothing and says so (lines read from a file).
            let keyed =
                #"{"case":"2026-000002","actor":"m-v1","idempotencyKey":"k-1","command":{"startMediation":{"mediators":["m-v1"],"chosenByParties":false}}}"#
            let file = directory.appending("keyed.jsonl")
            try (keyed + "\r\n" + keyed).write(toFile: file, atomically: true, encoding: .utf8)
            let again = try Self.tool(["exec", "--store", store, "--beyond-calendar", "provisional", "--input", file])
            // The mediation case whose referral was refused is still open, in the state before the referral.
            let refused = try Self.tool(["replay", "--store", store, "--case", "2026-000003", "--json"])
            #expect((refused.objects.first?["state"] as? [String: Any])?["state"] as? String == "failed")
            // No input: nothing to do, and nothing fails.
            let empty = try Self.tool(["exec", "--store", store], input: "")
            #expect(empty.status == 0)
            #expect(empty.output.isEmpty)
            #expect(again.status == 0, "\(again.output) \(again.error)")
            #expect(again.objects.map { $0["duplicate"] as? Bool ?? false } == [false, true])
        }
    }

    @Test("a region's override drives exec, and verify needs it to re-derive the region's cases")
    func regionOverride() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            let override = directory.appending("jingyan.yaml")
            try """
            region: "511124000000"
            version: "jy-2025.1"
            effectiveFrom: 2025-06-01
            kinds:
              peopleMediation:
                addStates:
                  - name: intakeReview
                addTransitions:
                  - command: sendToIntakeReview
                    from: [awaitingMediation]
                    to: intakeReview
                    rules: [PM9]
                  - command: completeIntakeReview
                    from: [intakeReview]
                    to: awaitingMediation
                    rules: [PM9]
            """.write(toFile: override, atomically: true, encoding: .utf8)
            let custom =
                #"{"case":"2026-000001","actor":"m-v1","command":{"custom":{"name":"sendToIntakeReview","note":"check the file"}}}"#
            let run = try Self.tool(
                [
                    "exec", "--store", store, "--directory", yaml, "--override", override, "--beyond-calendar",
                    "provisional",
                ],
                input: Self.register("2026-000001") + "\n" + custom + "\n")
            #expect(run.status == 0, "\(run.output) \(run.error)")
            #expect(run.objects.last?["events"] as? [[String: Any]] != nil)
            let withOverride = try Self.tool(["verify", "--store", store, "--override", override])
            #expect(withOverride.status == 0, "\(withOverride.error)")
            let replay = try Self.tool([
                "replay", "--store", store, "--override", override, "--case", "2026-000001", "--json",
            ])
            let state = replay.objects.first?["state"] as? [String: Any]
            #expect(state?["state"] as? String == "intakeReview")
            #expect((state?["definitionVersion"] as? String)?.hasSuffix("+jy-2025.1") == true)
            // Without the override the region's definition version is unknown: the first case event fails.
            let without = try Self.tool(["verify", "--store", store, "--skip-views"])
            #expect(without.status == 1)
            #expect(without.error.contains("position 1"), "\(without.error)")
        }
    }

    @Test("a calendar file adds the years the shipped calendar lacks; without it, such clocks are refused")
    func calendarFile() async throws {
        try await withTemporaryDirectory { directory in
            let yaml = try Self.countyFile(in: directory)
            // A review registered and accepted today runs clocks of 60 days (AR1, AR7): past 2026, beyond the shipped years.
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd"
            formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
            let day: (Int) -> String = { formatter.string(from: Date().addingTimeInterval(Double($0) * 86_400)) }
            let year = Calendar(identifier: .gregorian).component(.year, from: Date())
            // A made-up calendar for the test (no holidays, no swapped days), for this year and the next two.
            let calendar = directory.appending("calendar.yaml")
            try (max(2027, year)...(max(2027, year) + 2)).map {
                "\($0):\n  rest_days: []\n  working_days: []\n  notice: \"test calendar\"\n"
            }.joined().write(toFile: calendar, atomically: true, encoding: .utf8)
            let register = """
                {"case":"2026-000500","actor":"review-officer","command":{"register":{"registration":{"kind":"administrativeReview",\
                "channel":"window","unit":"review","owner":"review-officer","division":"511124101001","parties":[{"reference":"p-a",\
                "name":"张三","role":"applicant"},{"reference":"p-b","name":"县市场监督管理局","role":"respondent"}],\
                "disputeType":"administrativeAct","summary":"不服罚款","review":{"actReference":"罚〔2026〕1号",\
                "respondent":"县市场监督管理局","actDate":"\(day(-10))","knownOn":"\(day(-5))","rightsNotified":true,\
                "immovableProperty":false,"obstacleDays":0},"arbitrationAgreement":false,"links":[]}}}}
                """
            let accept =
                #"{"case":"2026-000500","actor":"review-officer","command":{"acceptReview":{"procedure":"standard"}}}"#
            let input = register + "\n" + accept + "\n"
            let with = try Self.tool(
                ["exec", "--store", directory.appending("a"), "--directory", yaml, "--calendar", calendar], input: input
            )
            #expect(with.status == 0, "\(with.output) \(with.error)")
            #expect(with.objects.map { $0["ok"] as? Bool ?? false } == [true, true])
            let without = try Self.tool(
                ["exec", "--store", directory.appending("b"), "--directory", yaml], input: input)
            #expect(without.status == 1)
            // The first line refused names the uncovered year: the acceptance's 60-day decision clock ends in it
            // (the registration itself is in time without it while its own clocks end in a covered year: the AR1
            // window is met before its nominal last day, so only days up to today are looked up).
            let refused = without.objects.first { $0["ok"] as? Bool == false }
            let error = refused?["error"] as? [String: Any]
            #expect(error?["code"] as? String == "calendarNotCovered", "\(without.output)")
        }
    }

    @Test("every command example in Docs/Commands.md is a line exec understands")
    func documentedExamplesDecode() async throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/Commands.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let commands = try #require(text.range(of: "\n## Commands")).upperBound
        var examples: [String] = []
        var inside = false
        for line in text[commands...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```json") {
                inside = true
            } else if line.hasPrefix("```") {
                inside = false
            } else if inside {
                examples.append(String(line))
            }
        }
        #expect(examples.count >= 60)
        try await withTemporaryDirectory { directory in
            let yaml = try Self.countyFile(in: directory)
            let run = try Self.tool(
                [
                    "exec", "--store", directory.appending("store"), "--directory", yaml, "--beyond-calendar",
                    "provisional",
                ],
                input: examples.joined(separator: "\n") + "\n")
            #expect(run.objects.count == examples.count)
            for result in run.objects {
                let error = result["error"] as? [String: Any]
                let line = result["line"] as? Int ?? 0
                #expect(
                    error?["code"] as? String != "invalidLine",
                    "example \(line) does not decode: \(error?["message"] ?? "") — \(examples[max(0, line - 1)])")
            }
        }
    }

    @Test("verify fails on a flipped byte and names the position")
    func verifyFindsAFlippedByte() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            let marker = "MARKER-7f3a9c"
            let input = [
                Self.register("2026-000001"), Self.register("2026-000002", marker: marker),
                Self.register("2026-000003"),
            ]
            let run = try Self.tool(
                ["exec", "--store", store, "--directory", yaml, "--beyond-calendar", "provisional"],
                input: input.joined(separator: "\n") + "\n")
            #expect(run.status == 0, "\(run.error)")
            let positions = try #require(run.objects[1]["positions"] as? [Int])
            #expect(try Self.tool(["verify", "--store", store]).status == 0)

            // Flip one byte of the marker wherever the file holds it (the record, and any stale page copy).
            let file = store + "/data.mdb"
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let needle = Array(marker.utf8)
            var flipped = 0
            var i = 0
            while i + needle.count <= bytes.count {
                if bytes[i] == needle[0], Array(bytes[i..<(i + needle.count)]) == needle {
                    bytes[i + 7] ^= 0x01
                    flipped += 1
                }
                i += 1
            }
            #expect(flipped >= 1)
            try Data(bytes).write(to: URL(fileURLWithPath: file))

            let verify = try Self.tool(["verify", "--store", store, "--json"])
            #expect(verify.status == 1)
            #expect(verify.error.contains("position \(positions[0])"), "\(verify.error)")
            let failure = try #require(verify.objects.first?["failure"] as? [String: Any])
            #expect(failure["position"] as? Int == positions[0])
        }
    }

    @Test("backup writes a copy that verifies and holds the same events")
    func backupEqualsTheOriginal() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 60, seed: 5)
            let copy = directory.appending("backup")
            let backup = try Self.tool(["backup", "--store", store, "--to", copy])
            #expect(backup.status == 0, "\(backup.error)")
            #expect(FileManager.default.fileExists(atPath: copy + "/party.key"))
            // An auditor's read-only verification writes nothing, not even LMDB's lock file.
            let readOnly = try Self.tool(["verify", "--store", copy, "--read-only", "--json"])
            #expect(readOnly.status == 0, "\(readOnly.error)")
            #expect(readOnly.objects.first?["cases"] as? Int ?? 0 > 0)
            // The six views too, recomputed in memory and compared with the stored ones.
            let views = readOnly.objects.first?["views"] as? [[String: Any]] ?? []
            #expect(views.count == 6 && views.allSatisfy { $0["consistent"] as? Bool == true }, "\(views)")
            #expect(views.contains { $0["view"] as? String == "caseSummary" && ($0["rows"] as? Int ?? 0) > 0 })
            let files = try FileManager.default.contentsOfDirectory(atPath: copy)
            #expect(!files.contains("lock.mdb") && !files.contains { $0.hasSuffix(".lock") }, "\(files)")
            #expect(try Self.tool(["verify", "--store", copy]).status == 0)
            let original = try Self.tool(["export", "--store", store]).output
            #expect(!original.isEmpty)
            #expect(try Self.tool(["export", "--store", copy]).output == original)
            // Byte for byte: the log's tables as LMDB's own dump tool prints them.
            for table in ["events", "streams", "meta", "idempotency"] {
                let mine = try Self.run("/usr/bin/mdb_dump", ["-s", table, store])
                let theirs = try Self.run("/usr/bin/mdb_dump", ["-s", table, copy])
                #expect(mine.status == 0 && theirs.status == 0)
                #expect(
                    mine.output.components(separatedBy: "HEADER=END").last
                        == theirs.output.components(separatedBy: "HEADER=END").last, "\(table) differs")
            }
            // A backup never overwrites: the same target again is refused.
            #expect(try Self.tool(["backup", "--store", store, "--to", copy]).status == 2)
            // A party key kept elsewhere and linked into the store is copied as a file, with its bytes.
            let key = try Data(contentsOf: URL(fileURLWithPath: store + "/party.key"))
            let kept = directory.appending("kept.key")
            try FileManager.default.moveItem(atPath: store + "/party.key", toPath: kept)
            try FileManager.default.createSymbolicLink(atPath: store + "/party.key", withDestinationPath: kept)
            let linked = directory.appending("backup-linked")
            #expect(try Self.tool(["backup", "--store", store, "--to", linked]).status == 0)
            let attributes = try FileManager.default.attributesOfItem(atPath: linked + "/party.key")
            #expect(attributes[.type] as? FileAttributeType == .typeRegular)
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: linked + "/party.key")) == key)
        }
    }

    @Test("verify and views status fail on a view that stopped at an event, read-only or not, as text or JSON")
    func verifyReportsAStoppedView() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 30, seed: 8)
            // Another writer's event in a case stream, without a record header: the views stop there.
            let position = try await {
                let log = try LMDBEventLog.open(at: store)
                defer { log.close() }
                return try await log.append(to: "case-foreign", events: [Fixtures.event("imported")]).positions
                    .lowerBound
            }()
            let stats = try Self.tool(["stats", "--store", store, "--month", "2025-06"])
            #expect(stats.status == 1 && stats.error.contains("stopped at position \(position)"), "\(stats.error)")
            for arguments in [["--read-only"], []] {
                let verify = try Self.tool(["verify", "--store", store, "--json"] + arguments)
                #expect(verify.status == 1, "\(arguments): \(verify.error)")
                let failure = verify.objects.first?["failure"] as? [String: Any]
                let what = failure?["what"] as? String ?? ""
                #expect(
                    what.contains("the view 'caseSummary' stopped at position \(position)"), "\(arguments): \(what)")
            }
            for arguments in [["--json"], []] {
                let status = try Self.tool(["views", "status", "--store", store] + arguments)
                #expect(status.status == 1, "\(arguments): \(status.error)")
                #expect(status.output.contains("\(position)"), "\(arguments): \(status.output)")
            }
        }
    }

    @Test("a hot backup taken while another process appends is a consistent prefix of the store")
    func hotBackup() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            _ = try Self.tool(
                ["exec", "--store", store, "--directory", yaml, "--beyond-calendar", "provisional"],
                input: Self.register("2026-000000") + "\n")
            // A writer process registering 400 cases, one durable commit each, while the backup runs.
            let lines = (1...400).map { Self.register("2026-\(100_000 + $0)") }.joined(separator: "\n")
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: Self.toolPath)
            writer.arguments = ["exec", "--store", store, "--beyond-calendar", "provisional"]
            let stdin = Pipe()
            writer.standardInput = stdin
            writer.standardOutput = FileHandle.nullDevice
            try writer.run()
            stdin.fileHandleForWriting.write(Data((lines + "\n").utf8))
            try stdin.fileHandleForWriting.close()
            let copy = directory.appending("backup")
            let backup = try Self.tool(["backup", "--store", store, "--to", copy])
            writer.waitUntilExit()
            #expect(backup.status == 0, "\(backup.error)")
            #expect(writer.terminationStatus == 0)
            #expect(try Self.tool(["verify", "--store", copy, "--read-only"]).status == 0)
            let copied = try Self.tool(["export", "--store", copy]).output.split(separator: "\n")
            let all = try Self.tool(["export", "--store", store]).output.split(separator: "\n")
            #expect(copied.count >= 2)
            #expect(all.count == 2 + 400 * 2)
            #expect(Array(all.prefix(copied.count)) == copied)
        }
    }

    @Test("verify reports a damaged page as a failure, never as its own crash")
    func verifyDamagedPage() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 60, seed: 6)
            try Self.zeroAPageInTheMiddle(of: store)
            let verify = try Self.tool(["verify", "--store", store, "--read-only", "--json"])
            #expect(verify.status == 1, "\(verify.error)")
            #expect(verify.objects.first?["ok"] as? Bool == false)
            #expect(verify.error.contains("FAILED"))
        }
    }

    @Test("export --output names its file only once the export is complete, and never overwrites one")
    func exportToAFile() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 20, seed: 9)
            let file = directory.appending("events.jsonl")
            let run = try Self.tool(["export", "--store", store, "--output", file])
            #expect(run.status == 0, "\(run.error)")
            let written = try String(contentsOfFile: file, encoding: .utf8)
            let printed = try Self.tool(["export", "--store", store]).output
            #expect(!written.isEmpty && written == printed)
            #expect(!FileManager.default.fileExists(atPath: file + ".partial"))
            #expect(try Self.tool(["export", "--store", store, "--output", file]).status == 2)
            // A partial file of an export that stopped (or anyone's file of that name) is neither used nor removed.
            let other = directory.appending("other.jsonl")
            #expect(FileManager.default.createFile(atPath: other + ".partial", contents: Data("kept".utf8)))
            let refused = try Self.tool(["export", "--store", store, "--output", other])
            #expect(refused.status == 2 && refused.error.contains(".partial"), "\(refused.error)")
            #expect(!FileManager.default.fileExists(atPath: other))
            #expect(try String(contentsOfFile: other + ".partial", encoding: .utf8) == "kept")
            // Offsets reach 14 hours at most (Tool.md): +14:00 is a time, +14:59 a usage error.
            #expect(try Self.tool(["export", "--store", store, "--from", "2025-01-01T00:00:00+14:00"]).status == 0)
            #expect(try Self.tool(["export", "--store", store, "--from", "2025-01-01T00:00:00+14:59"]).status == 64)
        }
    }

    @Test("backup of a store with a damaged page fails with status 1 and leaves no copy named data.mdb")
    func backupOfADamagedStore() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 60, seed: 6)
            try Self.zeroAPageInTheMiddle(of: store)
            let copy = directory.appending("backup")
            let backup = try Self.tool(["backup", "--store", store, "--to", copy])
            #expect(backup.status == 1, "\(backup.status): \(backup.error)")
            #expect(backup.error.contains("caseledger backup:"), "\(backup.error)")
            #expect(!FileManager.default.fileExists(atPath: copy + "/data.mdb"))
        }
    }

    @Test("CSV export quotes a field holding a CR LF line break")
    func csvQuotesCRLF() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("store")
            let yaml = try Self.countyFile(in: directory)
            // A case id with CR LF in it (JSON "\\r\\n"): nothing refuses it, so the export must quote it.
            let run = try Self.tool(
                ["exec", "--store", store, "--directory", yaml, "--beyond-calendar", "provisional"],
                input: Self.register(#"2026-x\r\n1"#) + "\n")
            #expect(run.status == 0, "\(run.error)")
            let export = try Self.tool(["export", "--store", store, "--format", "csv"])
            #expect(export.status == 0, "\(export.error)")
            #expect(export.output.contains("\"case-2026-x\r\n1\",\"2026-x\r\n1\""), "\(export.output.debugDescription)")
        }
    }

    @Test("verify reports a store too damaged to open as a failure of the store (status 1), not its own")
    func verifyDamagedHead() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 60, seed: 8)
            // The head record replaced by three bytes, with LMDB's own loader.
            let load = try Self.run("/usr/bin/mdb_load", ["-T", "-s", "meta", store], input: Data("head\nabc\n".utf8))
            #expect(load.status == 0, "\(load.error)")
            for extra in [[], ["--read-only"]] {
                let run = try Self.tool(["verify", "--store", store, "--json"] + extra)
                #expect(run.status == 1, "\(extra) \(run.error)")
                #expect(run.objects.first?["ok"] as? Bool == false && run.error.contains("FAILED"), "\(run.error)")
            }
        }
    }

    @Test(
        "verify checks the log of a store whose views' state is damaged, and reports the views as the failure unless told to skip them"
    )
    func verifyDamagedViewState() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 60, seed: 9)
            let load = try Self.run(
                "/usr/bin/mdb_load", ["-T", "-s", "views.meta", store], input: Data("board\nabc\n".utf8))
            #expect(load.status == 0, "\(load.error)")
            let run = try Self.tool(["verify", "--store", store, "--json"])
            #expect(run.status == 1, "\(run.error)")
            let result = try #require(run.objects.first)
            #expect(result["ok"] as? Bool == false && (result["events"] as? Int ?? 0) > 0, "\(result)")
            #expect(run.error.contains("FAILED") && run.error.contains("views"), "\(run.error)")
            // Skipping the views, the log and the cases are checked, and the output says the views were not.
            let skipped = try Self.tool(["verify", "--store", store, "--json", "--skip-views"])
            #expect(skipped.status == 0, "\(skipped.error)")
            let object = try #require(skipped.objects.first)
            #expect(object["ok"] as? Bool == true && object["viewsSkipped"] as? Bool == true, "\(object)")
            #expect((object["cases"] as? Int ?? 0) > 0, "\(object)")
            let text = try Self.tool(["verify", "--store", store, "--skip-views"])
            #expect(
                text.status == 0 && text.output.contains("verified: all holds (views not checked)"), "\(text.output)")
        }
    }

    @Test("verify does not blame the store when its checking process is killed for another reason")
    func verifyChildKilled() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 240, seed: 7)
            // The checking process is killed as the system kills a process out of memory (SIGKILL), as soon as it
            // appears; a run whose child ended before it was seen is tried again.
            var killed: Run?
            for _ in 0..<10 where killed == nil {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Self.toolPath)
                process.arguments = ["verify", "--store", store, "--read-only"]
                let errors = Pipe()
                process.standardError = errors
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                let parent = process.processIdentifier
                var child: Int32?
                while child == nil && process.isRunning {
                    // Any of the tool's threads may have started it.
                    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(parent)/task")) ?? []
                    child =
                        tasks.lazy.compactMap {
                            (try? String(contentsOfFile: "/proc/\(parent)/task/\($0)/children", encoding: .utf8))?
                                .split(separator: " ").first.flatMap { Int32($0) }
                        }.first
                    if child == nil { usleep(200) }
                }
                if let child { kill(child, SIGKILL) }
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                if child != nil, text.contains("signal") {
                    killed = Run(status: process.terminationStatus, output: "", error: text)
                }
            }
            let run = try #require(killed, "the checking process was never seen running")
            #expect(run.status == 2, "\(run.error)")
            #expect(run.error.contains("signal 9") && !run.error.contains("damaged"), "\(run.error)")
        }
    }

    @Test("the overdue list holds only clocks that are open and past due at the time asked")
    func overdueList() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 240, seed: 3)
            // The view is live: it lists the clocks open now that are due before the time asked. A month after the
            // simulation's last day, the cases it left open are overdue.
            var checked = 0
            let at = "2026-01-31T23:59"
            let run = try Self.tool(["overdue", "--store", store, "--at", at, "--json", "--limit", "500"])
            #expect(run.status == 0, "\(run.error)")
            for entry in run.objects.prefix(10) {
                let caseID = try #require(entry["case"] as? String)
                let due = try #require(entry["due"] as? String)
                #expect(due < "\(at):00+08:00")
                let replay = try Self.tool(["replay", "--store", store, "--case", caseID, "--json"])
                let state = try #require(replay.objects.first?["state"] as? [String: Any])
                let clocks = state["clocks"] as? [[String: Any]] ?? []
                #expect(
                    clocks.contains {
                        $0["id"] as? String == entry["deadline"] as? String && $0["due"] as? String == due
                            && ["running", "paused", "breached"].contains($0["status"] as? String ?? "")
                    }, "\(entry) is not a clock of \(caseID): \(clocks)")
                checked += 1
            }
            #expect(checked > 0, "no clock was overdue")
            let human = try Self.tool(["overdue", "--store", store, "--at", at, "--limit", "3"])
            #expect(human.output.contains("CASE"))
            #expect(try Self.tool(["overdue", "--store", store, "--unit", "no-such-unit"]).status == 2)
        }
    }

    @Test("the board and workload commands agree with each other and with every listed case's replayed state")
    func boardAndWorkload() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 240, seed: 3)
            let board = try Self.tool(["board", "--store", store, "--json"])
            #expect(board.status == 0, "\(board.error)")
            let counts = try #require(board.objects.first)
            let total = try #require(counts["total"] as? Int)
            #expect(total > 0, "the simulation left no case open")
            for group in ["byDivision", "byLevel", "byKind", "byChannel", "byState", "byUnit"] {
                let values = try #require(counts[group] as? [String: Int], "\(group)")
                #expect(values.values.reduce(0, +) == total, "\(group): \(values)")
            }
            // The list holds exactly the counted cases, and each is open in the state and unit its replay ends in.
            let listed = try Self.tool(["board", "--store", store, "--cases", "--json", "--limit", "100000"])
            #expect(listed.status == 0, "\(listed.error)")
            #expect(listed.objects.count == total)
            #expect(Set(listed.objects.compactMap { $0["case"] as? String }).count == total)
            for open in listed.objects.prefix(8) {
                let caseID = try #require(open["case"] as? String)
                let replay = try Self.tool(["replay", "--store", store, "--case", caseID, "--json"])
                let state = try #require(replay.objects.first?["state"] as? [String: Any])
                #expect(state["state"] as? String == open["state"] as? String, "\(caseID)")
                #expect(state["unit"] as? String == open["unit"] as? String, "\(caseID)")
                #expect(state["kind"] as? String == open["kind"] as? String, "\(caseID)")
            }
            // The owner filter lists what byUnit counts for the unit.
            let byUnit = try #require(counts["byUnit"] as? [String: Int])
            let (busiest, owned) = try #require(byUnit.max { $0.value < $1.value })
            let ownedList = try Self.tool([
                "board", "--store", store, "--cases", "--owner", busiest, "--json", "--limit", "100000",
            ])
            #expect(ownedList.objects.count == owned)
            #expect(ownedList.objects.allSatisfy { $0["unit"] as? String == busiest })
            // The workload view is another projection of the same log: each unit owns what the board says it does.
            let units = try Self.tool(["workload", "--store", store, "--units", "--json", "--limit", "100000"])
            #expect(units.status == 0, "\(units.error)")
            var loads: [String: Int] = [:]
            for entry in units.objects {
                loads[try #require(entry["unit"] as? String)] = try #require(entry["openCases"] as? Int)
            }
            #expect(loads == byUnit)
            let heaviest = units.objects.compactMap { $0["openCases"] as? Int }
            #expect(heaviest == heaviest.sorted(by: >), "not the heaviest first")
            let ownerCases = try Self.tool([
                "workload", "--store", store, "--owner", busiest, "--json", "--limit", "100000",
            ])
            #expect(
                Set(ownerCases.objects.compactMap { $0["case"] as? String })
                    == Set(ownedList.objects.compactMap { $0["case"] as? String }))
            // A person's list holds as many cases as the person's load.
            let people = try Self.tool(["workload", "--store", store, "--json", "--limit", "3"])
            let first = try #require(people.objects.first)
            let person = try #require(first["person"] as? String)
            let personCases = try Self.tool([
                "workload", "--store", store, "--person", person, "--json", "--limit", "100000",
            ])
            #expect(personCases.objects.count == first["openCases"] as? Int)
            let human = try Self.tool(["board", "--store", store])
            #expect(human.output.contains("Open cases under division") && human.output.contains("STATE"))
            // --limit cuts the list and says there are more; the header names the filters.
            let cut = try Self.tool(["board", "--store", store, "--cases", "--owner", busiest, "--limit", "1"])
            #expect(cut.output.contains("owned by \(busiest): 1\(owned > 1 ? "+" : "") listed"), "\(cut.output)")
            #expect(cut.output.contains("… more") == (owned > 1))
            let caseLines = cut.output.split(separator: "\n").filter { $0.hasPrefix("20") }
            #expect(caseLines.count == 1, "\(cut.output)")
            let fewer = try Self.tool(["workload", "--store", store, "--units", "--limit", "1"])
            #expect(fewer.output.contains("… \(byUnit.count - 1) more"), "\(fewer.output)")
            #expect(try Self.tool(["board", "--store", store, "--state", "mediating"]).status == 64)
            #expect(try Self.tool(["board", "--store", store, "--cases", "--owner", "no-such-unit"]).status == 2)
            #expect(try Self.tool(["workload", "--store", store, "--units", "--person", person]).status == 64)
        }
    }

    @Test("a city of several counties; stats for the city, a county, a unit; refusals fail the simulation")
    func cityAndRefusals() async throws {
        try await withTemporaryDirectory { directory in
            let store = directory.appending("city")
            let run = try Self.tool(["simulate", "--store", store, "--cases", "150", "--counties", "3", "--json"])
            #expect(run.status == 0, "\(run.error)")
            func registered(_ extra: [String]) throws -> Int {
                let stats = try Self.tool(
                    ["stats", "--store", store, "--month", "2025-06", "--format", "json"] + extra)
                #expect(stats.status == 0, "\(stats.error)")
                return stats.objects.first?["registered"] as? Int ?? -1
            }
            let city = try registered([])
            let counties = try (1...3).map { try registered(["--unit", "51112\($0)000000"]) }
            #expect(city > 0)
            #expect(counties.reduce(0, +) == city)
            #expect(counties.allSatisfy { $0 > 0 })
            // A unit id stands for its division: the aid centre's is its county.
            #expect(try registered(["--unit", "c02-aid"]) == counties[1])
            #expect(
                try Self.tool(["stats", "--store", store, "--month", "2025-06", "--unit", "510000000000"]).status == 2)

            // Clocks that reach a year the calendar lacks are refused; the run says so and fails.
            let uncovered = try HolidayCalendar.chinaMainland().coveredYears.map { $0.upperBound + 1 } ?? 2027
            let late = try Self.tool([
                "simulate", "--store", directory.appending("late"), "--cases", "60", "--from", "\(uncovered - 1)-11-01",
                "--to", "\(uncovered - 1)-12-31", "--json",
            ])
            #expect(late.status == 1)
            #expect(late.error.contains("calendarNotCovered"))
            #expect(
                (late.objects.first?["refused"] as? [String: Int])?.keys.contains { $0.hasPrefix("calendarNotCovered") }
                    == true)
        }
    }

    @Test("the standard mdb_stat and mdb_dump tools read the store")
    func lmdbToolsReadTheStore() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 30, seed: 9)
            let head = try Self.tool(["export", "--store", store]).objects.count
            let stat = try Self.run("/usr/bin/mdb_stat", ["-a", store])
            #expect(stat.status == 0, "\(stat.error)")
            let lines = stat.output.split(separator: "\n").map(String.init)
            let events = try #require(lines.firstIndex(of: "Status of events"))
            #expect(lines[events...].contains("  Entries: \(head)"))
            let dump = try Self.run("/usr/bin/mdb_dump", ["-s", "events", store])
            #expect(dump.status == 0, "\(dump.error)")
            #expect(dump.output.contains("HEADER=END"))
            // One key line and one value line per event between the header and DATA=END.
            let body = dump.output.components(separatedBy: "HEADER=END\n").last ?? ""
            #expect(body.split(separator: "\n").filter { $0 != "DATA=END" }.count == 2 * head)
        }
    }

    @Test("a view that another process is rebuilding is refused, with status 2, until its lock is free")
    func aViewUnderAnotherProcesssRebuildIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 20, seed: 5)
            // Hold the view's maintenance lock as another process's rebuild holds it: a flock on its lock file.
            let descriptor = open(store + "/views.monthly.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
            try #require(descriptor >= 0)
            try #require(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
            let refused = try Self.tool(["views", "rebuild", "--store", store, "monthly"])
            #expect(refused.status == 2)
            #expect(refused.error.contains("'monthly'") && refused.error.contains("try again"), "\(refused.error)")
            let verify = try Self.tool(["verify", "--store", store])
            #expect(verify.status == 2, "\(verify.output)\(verify.error)")
            #expect(verify.error.contains("'monthly'"), "\(verify.error)")
            // Other views are not held up.
            #expect(try Self.tool(["views", "rebuild", "--store", store, "board"]).status == 0)
            close(descriptor)
            #expect(try Self.tool(["views", "rebuild", "--store", store, "monthly"]).status == 0)
            #expect(try Self.tool(["verify", "--store", store]).status == 0)
        }
    }

    @Test("views status, rebuild, and the documented exit statuses")
    func viewsAndExitStatuses() async throws {
        try await withTemporaryDirectory { directory in
            let store = try Self.simulated(directory, cases: 40, seed: 4)
            let status = try Self.tool(["views", "status", "--store", store, "--json"])
            #expect(status.status == 0)
            #expect(
                Set(status.objects.compactMap { $0["view"] as? String }) == [
                    "caseSummary", "deadlines", "board", "monthly", "workload", "repeatDisputes",
                ])
            #expect(status.objects.allSatisfy { $0["lag"] as? Int == 0 })
            let generations = status.objects.map { $0["generation"] as? Int ?? 0 }
            #expect(try Self.tool(["views", "rebuild", "--store", store, "monthly"]).status == 0)
            let after = try Self.tool(["views", "status", "--store", store, "--json"]).objects
            let monthly = try #require(after.first { $0["view"] as? String == "monthly" })
            let index = try #require(status.objects.firstIndex { $0["view"] as? String == "monthly" })
            #expect(monthly["generation"] as? Int == generations[index] + 1)
            #expect(try Self.tool(["verify", "--store", store]).status == 0)
            // Any chunk size gives the same views (verify compares them with a recomputation).
            #expect(try Self.tool(["views", "rebuild", "--store", store, "--chunk-size", "7"]).status == 0)
            #expect(try Self.tool(["verify", "--store", store]).status == 0)
            #expect(try Self.tool(["views", "rebuild", "--store", store, "--chunk-size", "0"]).status == 64)
            #expect(try Self.tool(["views", "rebuild", "--store", store, "nosuchview"]).status == 64)
            // A spill directory given must be usable: status 2, naming it; one that is usable is left empty.
            let noSpill = directory.appending("no-such-dir")
            for arguments in [["views", "rebuild"], ["verify"], ["verify", "--read-only"]] {
                let refused = try Self.tool(arguments + ["--store", store, "--spill-directory", noSpill])
                #expect(refused.status == 2, "\(arguments): \(refused.output)\(refused.error)")
                #expect(refused.error.contains("the spill directory \(noSpill) cannot be used"), "\(refused.error)")
            }
            let spill = directory.appending("spill")
            try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: false)
            let rebuilt = try Self.tool(["views", "rebuild", "--store", store, "--spill-directory", spill, "--verbose"])
            // On the store's own disk the spill asks for a margin of free space (at least 1 GiB): on a machine without
            // it the rebuild fails, status 2, saying so; otherwise it spilled there and left the directory empty.
            if rebuilt.status == 2 {
                #expect(
                    rebuilt.error.contains("the spill directory \(spill) cannot be used")
                        && rebuilt.error.contains("MiB free; the spill needs about"), "\(rebuilt.error)")
            } else {
                #expect(rebuilt.status == 0, "\(rebuilt.error)")
                #expect(
                    rebuilt.error.contains("built in bulk") && !rebuilt.error.contains("spilling=0.0 seconds"),
                    "\(rebuilt.error)")
                #expect(try Self.tool(["verify", "--store", store, "--spill-directory", spill]).status == 0)
                #expect(try FileManager.default.contentsOfDirectory(atPath: spill).isEmpty)
            }

            // The key is private to the store's owner, and no temporary file of its durable write is left behind.
            let mode = try FileManager.default.attributesOfItem(atPath: store + "/party.key")[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let files = try FileManager.default.contentsOfDirectory(atPath: store)
            #expect(!files.contains { $0.hasSuffix(".partial") })
            // A store left empty (a crash before its key was written) gets a key on the next run.
            let empty = directory.appending("empty")
            #expect(
                try Self.tool(["exec", "--store", empty, "--directory", try Self.countyFile(in: directory)], input: "")
                    .status == 0)
            try FileManager.default.removeItem(atPath: empty + "/party.key")
            #expect(try Self.tool(["exec", "--store", empty], input: "").status == 0)
            #expect(FileManager.default.fileExists(atPath: empty + "/party.key"))

            // The repeat-disputes view's key is never replaced behind the operator's back.
            let key = store + "/party.key"
            try FileManager.default.moveItem(atPath: key, toPath: key + ".away")
            let noKey = try Self.tool(["stats", "--store", store, "--month", "2025-06"])
            #expect(noKey.status == 2)
            #expect(noKey.error.contains("party.key"))
            #expect(!FileManager.default.fileExists(atPath: key))
            try FileManager.default.moveItem(atPath: key + ".away", toPath: key)

            let missing = try Self.tool(["verify", "--store", directory.appending("nothing-here")])
            #expect(missing.status == 2)
            #expect(missing.error.contains("no store"))
            #expect(try Self.tool(["stats", "--store", store, "--month", "June"]).status == 64)
            for month in ["2025-+6", "2025--6", "+025-06"] {
                #expect(try Self.tool(["stats", "--store", store, "--month", month]).status == 64, "\(month)")
            }
            let subcommands = [
                ["simulate"], ["exec"], ["replay"], ["verify"], ["stats"], ["overdue"], ["board"], ["workload"],
                ["export"],
                ["backup"],
                ["views"], ["views", "status"], ["views", "rebuild"],
            ]
            for subcommand in subcommands {
                let help = try Self.tool(subcommand + ["--help"])
                #expect(help.status == 0)
                #expect(help.output.contains("Example"), "\(subcommand) --help has no example")
            }
        }
    }
}
