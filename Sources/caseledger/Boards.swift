import ArgumentParser
import CaseLedgerLog
import CaseLedgerProjections
import CaseLedgerWorkflow
import Foundation

// MARK: board

struct Board: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The jurisdiction board: open cases under a division, counted and listed (Docs/Tool.md).",
        discussion: """
            From the live board view: the open cases whose dispute lies under a division (a 12-digit code, or a unit \
            id whose division is used; the directory's top division by default), whichever unit owns them. A \
            township's board holds its villages' cases, a county's its townships'. Without --cases it counts them by \
            the next division down, level, kind, channel, state and owning unit; with --cases it lists them in case \
            order, optionally of one owning unit or state.

            Examples:
              caseledger board --store /tmp/jingyan
              caseledger board --store /tmp/jingyan --unit 511121101000 --json
              caseledger board --store /tmp/jingyan --cases --owner c01-t03 --state mediating --limit 20
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "A division code or unit id (default: the directory's highest division).")
    var unit: String?

    @Flag(help: "List the open cases instead of counting them.")
    var cases = false

    @Option(help: "With --cases: only cases this unit owns (exactly this unit).")
    var owner: String?

    @Option(help: "With --cases: only cases in this state (as `replay` names states).")
    var state: String?

    @Option(help: "With --cases: at most this many cases.")
    var limit = 50

    @Flag(help: "Print JSON: one object of counts, or one line per case.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1 to 100,000") }
        if !cases, owner != nil || state != nil {
            throw ValidationError("--owner and --state filter the list: add --cases")
        }
    }

    func run() async throws {
        try await running("board") {
            let store = try OpenStore(options)
            defer { store.close() }
            try store.catchUp()
            let under = try division(unit, in: store)
            if let owner, let directory = try? store.directory(), directory.unit(UnitID(owner)) == nil {
                throw ToolError("no unit '\(owner)' in the store's directory")
            }
            if cases {
                try list(under, store)
            } else {
                try count(under, store)
            }
        }
    }

    private func count(_ under: DivisionCode, _ store: OpenStore) throws {
        let counts: BoardCounts
        do {
            counts = try BoardProjection.counts(under: under, in: store.runtime)
        } catch {
            throw ToolError("reading the board view failed: \(error)")
        }
        let groups: [(key: String, title: String, counts: [String: Int])] = [
            // Full 12-digit codes, as --unit takes them (the view counts by the child's prefix).
            (
                "byDivision", "DIVISION",
                Dictionary(
                    uniqueKeysWithValues: counts.byDivision.map {
                        ($0.key.padding(toLength: 12, withPad: "0", startingAt: 0), $0.value)
                    })
            ),
            ("byLevel", "LEVEL", Dictionary(uniqueKeysWithValues: counts.byLevel.map { ($0.key.rawValue, $0.value) })),
            ("byKind", "KIND", Dictionary(uniqueKeysWithValues: counts.byKind.map { ($0.key.rawValue, $0.value) })),
            (
                "byChannel", "CHANNEL",
                Dictionary(uniqueKeysWithValues: counts.byChannel.map { ($0.key.rawValue, $0.value) })
            ),
            ("byState", "STATE", counts.byState),
            ("byUnit", "UNIT", Dictionary(uniqueKeysWithValues: counts.byUnit.map { ($0.key.rawValue, $0.value) })),
        ]
        if json {
            var object: [String: Any] = ["division": under.digits, "total": counts.total]
            for group in groups { object[group.key] = group.counts }
            print(jsonLine(object))
            return
        }
        print("Open cases under division \(under.digits) (\(under.level)): \(counts.total)")
        for group in groups where !group.counts.isEmpty {
            // The largest first: the places and states that need attention lead.
            let rows = group.counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            print("")
            print(table([group.title, "OPEN"], rows.map { [$0.key, "\($0.value)"] }))
        }
    }

    private func list(_ under: DivisionCode, _ store: OpenStore) throws {
        var items: [OpenCase] = []
        var cursor: String?
        repeat {
            let page: Page<OpenCase>
            do {
                page = try BoardProjection.openCases(
                    under: under, unit: owner.map { UnitID($0) }, state: state, after: cursor,
                    limit: min(500, limit + 1 - items.count), in: store.runtime)
            } catch {
                throw ToolError("reading the board view failed: \(error)")
            }
            items += page.items
            cursor = page.next
        } while cursor != nil && items.count <= limit
        let more = items.count > limit
        if more { items.removeLast(items.count - limit) }
        if json {
            for open in items {
                print(
                    jsonLine([
                        "case": open.caseID.rawValue, "division": open.division.digits, "kind": open.kind.rawValue,
                        "level": open.level.rawValue, "channel": open.channel.rawValue, "state": open.state,
                        "unit": open.unit.rawValue,
                    ]))
            }
            return
        }
        let filters = [owner.map { "owned by \($0)" }, state.map { "in state \($0)" }].compactMap { $0 }
        let which = filters.isEmpty ? "" : " " + filters.joined(separator: ", ")
        print("Open cases under division \(under.digits)\(which): \(items.count)\(more ? "+" : "") listed")
        print(
            table(
                ["CASE", "KIND", "LEVEL", "CHANNEL", "STATE", "UNIT"],
                items.map {
                    [
                        $0.caseID.rawValue, $0.kind.rawValue, $0.level.rawValue, $0.channel.rawValue, $0.state,
                        $0.unit.rawValue,
                    ]
                }))
        if more { print("… more; raise --limit to see them") }
    }
}

// MARK: workload

struct Workload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open cases per mediator, lawyer and unit, the heaviest first (Docs/Tool.md).",
        discussion: """
            From the live workload view: a person counts a case while they own it, mediate it or provide its legal \
            aid; a unit counts the open cases it owns. --person or --owner lists one's open cases instead.

            Examples:
              caseledger workload --store /tmp/jingyan
              caseledger workload --store /tmp/jingyan --units --json
              caseledger workload --store /tmp/jingyan --person mediator-c01-t03-1
            """)

    @OptionGroup var options: StoreOptions

    @Flag(help: "Units instead of people.")
    var units = false

    @Option(help: "List the open cases of this person.")
    var person: String?

    @Option(help: "List the open cases this unit owns.")
    var owner: String?

    @Option(help: "At most this many rows.")
    var limit = 50

    @Flag(help: "Print JSON Lines.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1 to 100,000") }
        let chosen = [units, person != nil, owner != nil].filter { $0 }.count
        guard chosen <= 1 else { throw ValidationError("give at most one of --units, --person and --owner") }
    }

    func run() async throws {
        try await running("workload") {
            let store = try OpenStore(options)
            defer { store.close() }
            try store.catchUp()
            if let owner, let directory = try? store.directory(), directory.unit(UnitID(owner)) == nil {
                throw ToolError("no unit '\(owner)' in the store's directory")
            }
            do {
                if let person {
                    try listCases("person", person) { cursor, limit in
                        try WorkloadProjection.openCases(
                            of: PersonID(person), after: cursor, limit: limit, in: store.runtime)
                    }
                } else if let owner {
                    try listCases("unit", owner) { cursor, limit in
                        try WorkloadProjection.openCases(
                            of: UnitID(owner), after: cursor, limit: limit, in: store.runtime)
                    }
                } else {
                    try listLoads(store)
                }
            } catch let error as ToolError {
                throw error
            } catch {
                throw ToolError("reading the workload view failed: \(error)")
            }
        }
    }

    /// Every person's (or unit's) load, read whole (one row per person or unit), the heaviest first.
    private func listLoads(_ store: OpenStore) throws {
        var loads: [WorkloadEntry] = []
        var cursor: String?
        repeat {
            let page =
                units
                ? try WorkloadProjection.units(after: cursor, limit: 1_000, in: store.runtime)
                : try WorkloadProjection.people(after: cursor, limit: 1_000, in: store.runtime)
            loads += page.items
            cursor = page.next
        } while cursor != nil
        loads.sort { ($0.openCases, $1.id) > ($1.openCases, $0.id) }
        let total = loads.count
        let shown = Array(loads.prefix(limit))
        let column = units ? "unit" : "person"
        if json {
            for load in shown { print(jsonLine([column: load.id, "openCases": load.openCases])) }
            return
        }
        print("Open cases per \(column): \(total) \(units ? "units" : "people") with open cases")
        print(table([column.uppercased(), "OPEN"], shown.map { [$0.id, "\($0.openCases)"] }))
        if total > shown.count { print("… \(total - shown.count) more; raise --limit to see them") }
    }

    private func listCases(
        _ what: String, _ id: String, _ page: (String?, Int) throws -> Page<CaseID>
    ) throws {
        var items: [CaseID] = []
        var cursor: String?
        repeat {
            let next = try page(cursor, min(500, limit + 1 - items.count))
            items += next.items
            cursor = next.next
        } while cursor != nil && items.count <= limit
        let more = items.count > limit
        if more { items.removeLast(items.count - limit) }
        if json {
            for caseID in items { print(jsonLine(["case": caseID.rawValue, what: id])) }
            return
        }
        print("Open cases of \(what) \(id): \(items.count)\(more ? "+" : "")")
        for caseID in items { print(caseID.rawValue) }
        if more { print("… more; raise --limit to see them") }
    }
}
