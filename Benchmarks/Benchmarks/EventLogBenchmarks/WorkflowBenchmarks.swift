import Benchmark
import CaseLedger
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Logging
import Synchronization

/// End-to-end workflow commands: each is decided against its case's rules (directory, definition, calendar) and
/// appended durably under group commit, exactly as `CaseEngine.execute` does for a caller.
enum WorkflowWorkload {
    /// 09:00 on Monday 2025-03-03 in Asia/Shanghai: every clock falls inside the shipped calendar.
    struct FixedClock: EventClock {
        func now() -> Timestamp { Timestamp(microsecondsSinceEpoch: 1_740_963_600_000_000) }
    }

    static let village = DivisionCode("511124101001")
    static let clients = 64
    /// One life cycle per client and iteration: register, startMediation, reachAgreement (oral), close, evaluate.
    static let commandsPerClient = 5
    /// The records those five commands write: registered + PM13 clock; mediationStarted; agreementReached +
    /// agreementTookEffect + PM13 stopped + PM11 window; closed; evaluated.
    static let eventsPerClient = 9

    static func configuration() throws -> CaseEngine.Configuration {
        guard let village else { throw BenchmarkFailure("bad division code") }
        let directory = Directory(
            units: [ServiceUnit(id: "v1", name: "Village committee", kind: .mediationCommittee, division: village)],
            persons: [Person(id: "m-v1", name: "Mediator", roles: [.mediator, .staff], units: ["v1"])])
        return CaseEngine.Configuration(
            directory: directory, calendar: try HolidayCalendar.chinaMainland(),
            definitions: try DefinitionRegistry.national())
    }

    static func lifeCycle(_ engine: CaseEngine, case id: CaseID) async throws {
        guard let village else { throw BenchmarkFailure("bad division code") }
        let registration = Registration(
            kind: .peopleMediation, channel: .hotline12348, unit: "v1", owner: "m-v1", division: village,
            parties: [
                Party(reference: "p-\(id)-a", name: "张三", role: .applicant),
                Party(reference: "p-\(id)-b", name: "李四", role: .respondent),
            ],
            disputeType: .neighbour, summary: "邻里纠纷：院墙渗水")
        try await engine.execute(.register(registration), on: id, by: "m-v1")
        try await engine.execute(.startMediation(mediators: ["m-v1"], chosenByParties: false), on: id, by: "m-v1")
        try await engine.execute(.reachAgreement(form: .oral, terms: "修复院墙，赔偿500元"), on: id, by: "m-v1")
        try await engine.execute(.close(outcome: "agreement performed"), on: id, by: "m-v1")
        try await engine.execute(.evaluate(rating: 5, comment: "满意"), on: id, by: "m-v1")
    }
}

func registerWorkflowBenchmarks() {
    registerCommandBenchmark("Command.CaseLedger.durable.concurrent64x5", inlineViews: false)
    registerCommandBenchmark("Command.CaseLedger.durable.concurrent64x5.inlineViews", inlineViews: true)
    registerCommandBenchmark(
        "Command.CaseLedger.durable.concurrent64x5.inlineCoreViews", inlineViews: true, coreOnly: true)
}

/// The command benchmark, optionally with every built-in view kept inline (in the append's transaction).
///
/// `coreOnly` keeps inline only the views a caller reads back right after a command (case summary, deadlines,
/// board); the statistical ones (monthly, workload, repeat disputes) are registered as asynchronous but not caught
/// up during the run: the figure is the commands' cost with three inline views, not a deployment's whole CPU (which
/// would also catch the other three up, on the same processors).
func registerCommandBenchmark(_ name: String, inlineViews: Bool, coreOnly: Bool = false) {
    nonisolated(unsafe) var log: LMDBEventLog?
    nonisolated(unsafe) var engine: CaseEngine?
    nonisolated(unsafe) var runtime: ProjectionRuntime?
    nonisolated(unsafe) var directory: ScratchDirectory?
    let nextCase = Atomic<Int>(0)
    Benchmark(
        name,
        configuration: .init(
            setup: {
                settleDisk()
                var configuration = LMDBEventLog.Configuration()
                configuration.initialMapSize = 1 << 30
                configuration.clock = WorkflowWorkload.FixedClock()
                let scratch = ScratchDirectory("workflow")
                directory = scratch
                let opened = try LMDBEventLog.open(at: scratch.path + "/store", configuration: configuration)
                log = opened
                engine = CaseEngine(
                    log: opened, configuration: try WorkflowWorkload.configuration(),
                    clock: WorkflowWorkload.FixedClock(), logger: Logger(label: "benchmark"))
                if inlineViews {
                    let core: Set<String> = ["caseSummary", "deadlines", "board"]
                    runtime = try ProjectionRuntime(
                        log: opened,
                        projections: try allViews().map { view in
                            (view.0, !coreOnly || core.contains(view.0.name) ? .inline : .async)
                        },
                        logger: Logger(label: "benchmark"))
                }
            },
            teardown: {
                runtime?.shutdown()
                runtime = nil
                engine = nil
                log?.close()
                log = nil
                directory?.remove()
            })
    ) { benchmark in
        guard let engine, let log else { throw BenchmarkFailure("no engine") }
        for _ in benchmark.scaledIterations {
            let before = try log.head().position
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<WorkflowWorkload.clients {
                    let id = CaseID("bench-\(nextCase.wrappingAdd(1, ordering: .relaxed).oldValue)")
                    group.addTask { try await WorkflowWorkload.lifeCycle(engine, case: id) }
                }
                try await group.waitForAll()
            }
            let written = try log.head().position - before
            let expected = UInt64(WorkflowWorkload.clients * WorkflowWorkload.eventsPerClient)
            guard written == expected else { throw BenchmarkFailure("wrote \(written) events, expected \(expected)") }
            if let runtime {
                let head = try log.head().position
                guard
                    try runtime.status().allSatisfy({
                        $0.mode == .async || ($0.checkpoint == head && $0.failedAt == nil)
                    })
                else {
                    throw BenchmarkFailure("an inline view fell behind")
                }
            }
        }
    }
}

/// The CPU side of the same life cycle, without the log: deciding the five commands in memory, then encoding
/// the nine records as the engine stores them.
func registerWorkflowCPUBenchmarks() {
    nonisolated(unsafe) var prepared: CaseEngine.Configuration?
    Benchmark(
        "Command.Workflow.decideLifeCycle",
        configuration: .init(setup: { prepared = try WorkflowWorkload.configuration() }, teardown: { prepared = nil })
    ) { benchmark in
        guard let configuration = prepared else { throw BenchmarkFailure("no configuration") }
        guard let village = WorkflowWorkload.village else { throw BenchmarkFailure("bad division code") }
        let now = Instant(WorkflowWorkload.FixedClock().now())
        for iteration in benchmark.scaledIterations {
            let id = CaseID("cpu-\(iteration)")
            let context = DecisionContext(
                directory: configuration.directory, calendar: configuration.calendar,
                definitions: configuration.definitions, now: now, actor: "m-v1")
            let registration = Registration(
                kind: .peopleMediation, channel: .hotline12348, unit: "v1", owner: "m-v1", division: village,
                parties: [
                    Party(reference: "p-a", name: "张三", role: .applicant),
                    Party(reference: "p-b", name: "李四", role: .respondent),
                ],
                disputeType: .neighbour, summary: "邻里纠纷：院墙渗水")
            var state: CaseState?
            var records = 0
            for command: CaseCommand in [
                .register(registration), .startMediation(mediators: ["m-v1"], chosenByParties: false),
                .reachAgreement(form: .oral, terms: "修复院墙，赔偿500元"), .close(outcome: "agreement performed"),
                .evaluate(rating: 5, comment: "满意"),
            ] {
                let decision = try Workflow.decide(command, for: id, state: state, context: context)
                state = decision.states[id]
                records += decision.cases.reduce(0) { $0 + $1.records.count }
            }
            guard records == WorkflowWorkload.eventsPerClient else { throw BenchmarkFailure("\(records) records") }
            blackHole(state)
        }
    }
}
