import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Dispatch
import Logging
import MetricsTestKit
import ServiceLifecycle
import Synchronization
import Testing
import _CaseLedgerTestSupport

/// Records, for each event it applies, whether it runs on the runtime's catch-up queue.
struct QueueRecordingProjection: Projection {
    final class Seen: Sendable {
        let onCatchUpQueue = Mutex<[Bool]>([])
    }
    let name = "queues"
    let version = 1
    let tables = ["unused"]
    let seen: Seen

    func apply(_ event: borrowing EventView, to view: borrowing ViewTransaction) throws {
        let onQueue = DispatchQueue.getSpecific(key: ProjectionRuntime.catchUpQueueKey) == true
        seen.onCatchUpQueue.withLock { $0.append(onQueue) }
    }
}

@Suite struct ServiceTests {
    @Test func theRuntimeRunsAsAServiceAndReportsLagAndFailuresThroughMetrics() async throws {
        try await withTemporaryLog { log, _ in
            let metrics = TestMetrics()
            let seen = QueueRecordingProjection.Seen()
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CountingProjection(name: "counter"), .async),
                    (CountingProjection(name: "picky", failOnType: "Stop"), .async),
                    (QueueRecordingProjection(seen: seen), .async),
                ],
                logger: Logger(label: "test"), metrics: metrics)
            let service: any Service = runtime
            let task = Task { try await service.run() }
            defer { task.cancel() }
            for i in 0..<50 {
                _ = try await log.append(to: "s-\(i % 5)", events: [Fixtures.event(i == 30 ? "Stop" : "Note")])
            }
            // Wait (bounded) for the service to catch up; no timing is asserted. Both views that do not fail must be
            // at the head: a catch-up brings the projections up one after another.
            var caughtUp = false
            for _ in 0..<500 where !caughtUp {
                let lags = try runtime.status().filter { $0.name != "picky" }.map(\.lag)
                caughtUp = lags.count == 2 && lags.allSatisfy { $0 == 0 }
                if !caughtUp { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(caughtUp)
            #expect(try CountingProjection.total(runtime, "counter") == 50)
            let picky = try #require(try runtime.status().first { $0.name == "picky" })
            #expect(picky.failedAt == 31 && picky.checkpoint == 30)
            #expect(
                try metrics.expectCounter("caseledger_projection_failures_total", [("projection", "picky")]).totalValue
                    == 1)
            #expect(
                try metrics.expectGauge("caseledger_projection_lag_positions", [("projection", "counter")]).lastValue
                    == 0)
            #expect(
                try metrics.expectGauge("caseledger_projection_lag_positions", [("projection", "picky")]).lastValue
                    == 20)
            // Where each view stands and where the stopped one stopped, for an alert that names the event.
            for (name, checkpoint, stoppedAt) in [("counter", 50.0, 0.0), ("picky", 30, 31)] {
                let dimensions = [("projection", name)]
                #expect(
                    try metrics.expectGauge("caseledger_projection_checkpoint", dimensions).lastValue == checkpoint)
                #expect(
                    try metrics.expectGauge("caseledger_projection_stopped_at", dimensions).lastValue == stoppedAt)
            }
            // The service catches up on the runtime's own thread, not on one of the tasks' shared threads.
            #expect(seen.onCatchUpQueue.withLock { $0 } == [Bool](repeating: true, count: 50))
            task.cancel()
            _ = try? await task.value
        }
    }

    /// Hosted in a `ServiceGroup`, as a Hummingbird or Vapor server hosts it, the runtime ends when a graceful
    /// shutdown begins (with no time limit configured, a service that ignored it would keep the group, and the
    /// server, from ending), having applied what was appended before.
    @Test func theRuntimeEndsOnAGracefulShutdownOfItsServiceGroup() async throws {
        try await withTemporaryLog { log, _ in
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "counter"), .async)], logger: Logger(label: "test"))
            defer { runtime.shutdown() }
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: runtime)], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            for i in 0..<5 { _ = try await log.append(to: "s-\(i)", events: [Fixtures.event()]) }
            var caughtUp = false
            for _ in 0..<500 where !caughtUp {
                caughtUp = try runtime.status().first?.lag == 0
                if !caughtUp { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(caughtUp)
            await group.triggerGracefulShutdown()
            // The group ends by itself; the watchdog cancels it only if it has not ended within 30 s.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(30))
                running.cancel()
            }
            defer { watchdog.cancel() }
            try await running.value
            #expect(!watchdog.isCancelled && !running.isCancelled, "the group ended on the graceful shutdown")
            #expect(try CountingProjection.total(runtime, "counter") == 5)
        }
    }

    /// An inline view that fails at an event falls behind at once; the stopped-at gauge names the event then, before
    /// any catch-up records the failure in the view's state.
    @Test func anInlineFailureReachesMetricsAtOnce() async throws {
        try await withTemporaryLog { log, _ in
            let metrics = TestMetrics()
            let runtime = try ProjectionRuntime(
                log: log, projections: [(CountingProjection(name: "picky", failOnType: "Stop"), .inline)],
                logger: Logger(label: "test"), metrics: metrics)
            defer { runtime.shutdown() }
            _ = try await log.append(to: "s-1", events: [Fixtures.event("Note")])
            let stop = try await log.append(to: "s-1", events: [Fixtures.event("Stop")])
            let status = try #require(try runtime.status().first)
            #expect(status.checkpoint == 1 && status.failedAt == nil, "not recorded yet: \(status)")
            #expect(
                try metrics.expectGauge("caseledger_projection_stopped_at", [("projection", "picky")]).lastValue
                    == Double(stop.positions.lowerBound))
        }
    }

    /// The age gauge is the age of the oldest event a view has not applied, by the log's clock: it grows while a
    /// stopped view waits, even when nothing is appended.
    @Test func theLagAgeOfAStoppedViewGrowsWithTheClock() async throws {
        let clock = ManualClock()
        try await withTemporaryLog(configuration: Fixtures.configuration(clock: clock)) { log, _ in
            let metrics = TestMetrics()
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CountingProjection(name: "counter"), .async),
                    (CountingProjection(name: "picky", failOnType: "Stop"), .async),
                ],
                logger: Logger(label: "test"), metrics: metrics)
            defer { runtime.shutdown() }
            for type in ["Note", "Stop", "Note"] { _ = try await log.append(to: "s-1", events: [Fixtures.event(type)]) }
            clock.advance(microseconds: 30_000_000)
            try runtime.catchUp()
            func age(_ name: String) throws -> Double? {
                try metrics.expectGauge("caseledger_projection_lag_seconds", [("projection", name)]).lastValue
            }
            #expect(try age("counter") == 0)
            #expect(try age("picky") == 30)
            clock.advance(microseconds: 90_000_000)
            try runtime.catchUp()
            #expect(try age("picky") == 120, "the stopped view's oldest waiting event is two minutes old")
            #expect(try age("counter") == 0)
        }
    }

    /// A cancelled run() finishes the chunk it is applying (its rows and checkpoint commit together) and stops before
    /// the next one, instead of catching up to the head first; a later catch-up goes on from there.
    @Test(.timeLimit(.minutes(1))) func aCancelledRunFinishesItsChunkAndStopsBeforeTheNext() async throws {
        try await withTemporaryLog { log, _ in
            for i in 0..<40 { _ = try await log.append(to: "s-\(i % 4)", events: [Fixtures.event()]) }
            let gate = GatedProjection.Gate(at: 15)
            gate.armed.store(true, ordering: .releasing)
            let runtime = try ProjectionRuntime(
                log: log, projections: [(GatedProjection(name: "gated", version: 1, gate: gate), .async)],
                logger: Logger(label: "test"), chunkSize: 10)
            defer { runtime.shutdown() }
            let running = Task { try await runtime.run() }
            var reached = false
            for _ in 0..<3_000 where !reached {
                reached = gate.reached.wait(timeout: .now()) == .success
                if !reached { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(reached, "the catch-up never got to position 15")
            running.cancel()
            gate.release.signal()
            let watchdog = Task {
                try await Task.sleep(for: .seconds(30))
                gate.release.signal()
            }
            defer { watchdog.cancel() }
            try await running.value
            // Positions 11...20 are the chunk it was in: all applied, checkpoint at its end, nothing of the next.
            let status = try #require(try runtime.status().first)
            #expect(status.checkpoint == 20 && status.failedAt == nil, "\(status)")
            #expect(try CountingProjection.total(runtime, "gated") == 20)
            #expect(try runtime.catchUp() == 20)
            #expect(try CountingProjection.total(runtime, "gated") == 40)
        }
    }

    /// The lag gauges are refreshed however a catch-up ends: a view whose writes the store refuses keeps showing how
    /// far behind it is, not the figure of its last good round.
    @Test func theLagGaugesOfAViewWhoseCatchUpFailsAreRefreshed() async throws {
        try await withTemporaryLog { log, _ in
            let metrics = TestMetrics()
            let runtime = try ProjectionRuntime(
                log: log,
                projections: [
                    (CountingProjection(name: "counter"), .async),
                    (KeyAtTypeProjection(name: "troubled", type: "Bad", storeError: true), .async),
                ],
                logger: Logger(label: "test"), chunkSize: 1, metrics: metrics)
            defer { runtime.shutdown() }
            for _ in 0..<3 { _ = try await log.append(to: "good", events: [Fixtures.event()]) }
            try runtime.catchUp()
            func lag(_ name: String) throws -> Double? {
                try metrics.expectGauge("caseledger_projection_lag_positions", [("projection", name)]).lastValue
            }
            #expect(try lag("troubled") == 0)
            // The store refuses the view's write at position 4: it stays at 3 while the log grows past it.
            _ = try await log.append(to: "good", events: [Fixtures.event("Bad")])
            for _ in 0..<2 { _ = try await log.append(to: "good", events: [Fixtures.event()]) }
            let error = try #require(throws: ProjectionError.self) { try runtime.catchUp() }
            #expect(error.projection == "troubled")
            #expect(try lag("troubled") == 3)
            #expect(try lag("counter") == 0)
            _ = try await log.append(to: "good", events: [Fixtures.event()])
            #expect(throws: ProjectionError.self) { try runtime.catchUp() }
            #expect(try lag("troubled") == 4)
        }
    }
}
