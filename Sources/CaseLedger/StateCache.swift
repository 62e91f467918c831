import CaseLedgerWorkflow

/// The engine's bounded cache of case states. It keeps the most recently written states: when it holds more than
/// its capacity, the earliest-written tenth goes in one pass, so each write costs O(1) amortised however large the
/// cache is. (Evicting one arbitrary key per write degraded as the dictionary's probe runs grew.)
struct StateCache {
    private var states: [CaseID: (state: CaseState, stamp: UInt64)] = [:]
    /// Case ids in write order, each with the stamp of that write; an entry whose stamp is no longer the case's is
    /// stale and skipped.
    private var order: [(id: CaseID, stamp: UInt64)] = []
    private var head = 0
    private var stamp: UInt64 = 0

    var count: Int { states.count }

    /// The length of the write-order list still to be consumed (bounded by about twice the count).
    var orderLength: Int { order.count - head }

    subscript(id: CaseID) -> CaseState? { states[id]?.state }

    mutating func set(_ id: CaseID, _ state: CaseState) {
        stamp += 1
        states[id] = (state, stamp)
        order.append((id, stamp))
    }

    mutating func remove(_ id: CaseID) { states[id] = nil }

    mutating func removeAll() {
        states = [:]
        order = []
        head = 0
    }

    /// Evicts the earliest-written states when more than `capacity` are held, down to nine tenths of it.
    mutating func trim(to capacity: Int) {
        let capacity = max(1, capacity)
        if states.count > capacity {
            let target = max(1, capacity - capacity / 10)
            while states.count > target, head < order.count {
                let entry = order[head]
                head += 1
                if states[entry.id]?.stamp == entry.stamp { states[entry.id] = nil }
            }
        }
        // Keep the order list proportional to the cache: drop what was consumed and the stale entries.
        if order.count - head > 2 * states.count + 1_024 || head > order.count / 2 + 1_024 {
            order = order[head...].filter { states[$0.id]?.stamp == $0.stamp }
            head = 0
        }
    }
}
