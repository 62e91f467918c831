import CaseLedgerLog
import CaseLedgerWorkflow
import Logging
import Testing
import _CaseLedgerTestSupport

@testable import CaseLedger

@Suite struct StateCacheTests {
    static func state(_ n: Int) throws -> CaseState {
        var h = WorkflowHarness(
            now: County.at(2025, 3, 3), calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
        try h.run(.register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: "s", by: "m-v1")
        return try #require(h.state("s"))
    }

    @Test func aFullCacheEvictsTheEarliestWrittenTenthAndKeepsRecentWrites() throws {
        let state = try Self.state(0)
        var cache = StateCache()
        for n in 0..<100 { cache.set(CaseID("c\(n)"), state) }
        cache.set("c0", state)  // written again: now among the most recent
        for n in 100..<150 {
            cache.set(CaseID("c\(n)"), state)
            cache.trim(to: 100)
            #expect(cache.count <= 100)
        }
        #expect(cache.count >= 90)
        #expect(cache["c0"] != nil && cache["c149"] != nil)
        #expect(cache["c1"] == nil && cache["c50"] == nil)
        // Rewriting the same cases over and over keeps the write-order list bounded.
        for round in 0..<200 {
            for n in 140..<150 { cache.set(CaseID("c\(n)"), state) }
            cache.trim(to: 100)
            #expect(cache.orderLength <= 2 * cache.count + 1_024 + 10, "round \(round)")
        }
        cache.remove("c149")
        #expect(cache["c149"] == nil)
    }

    @Test func anEngineWithATinyCacheStillDecidesFromTheRightStates() async throws {
        try await withTemporaryLog { log, _ in
            var configuration = CaseEngine.Configuration(
                directory: County.directory, calendar: try HolidayCalendar.chinaMainland(),
                definitions: try DefinitionRegistry.national())
            configuration.cacheCapacity = 3
            let engine = CaseEngine(
                log: log, configuration: configuration, clock: ManualClock(Timestamp(County.at(2025, 3, 3))),
                logger: Logger(label: "test"))
            for n in 0..<20 {
                try await engine.execute(
                    .register(County.registration(.peopleMediation, unit: "v1", owner: "m-v1")), on: CaseID("k\(n)"),
                    by: "m-v1")
            }
            for n in 0..<20 {
                try await engine.execute(
                    .startMediation(mediators: ["m-v1"], chosenByParties: false), on: CaseID("k\(n)"), by: "m-v1")
            }
            for n in 0..<20 {
                let id = CaseID("k\(n)")
                #expect(try engine.state(of: id) == engine.replayState(of: id))
                #expect(try engine.state(of: id)?.state == "mediating")
            }
        }
    }
}
