/// A JSON encoder for the engine's records that writes straight into one byte buffer.
///
/// Foundation's `JSONEncoder` builds a tree of boxed values per record and then serialises it; with `.sortedKeys`
/// it also sorts every object. For the workflow's records that was about half of the engine's CPU time per command
/// (measured with `perf` on `Command.CaseLedger.durable.concurrent64x5`). This encoder streams instead: each
/// container writes its opening bracket when created and is closed when the value that created it finishes
/// encoding, or when an enclosing container is written to again. Keys come out in the order the type encodes them
/// (declaration order for synthesised conformances), so the output is the same on every run.
///
/// Coding paths are not tracked (they only label errors, and building them cost an allocation per field); an
/// encoding error names the top-level value only.
///
/// It supports what the records use: objects, arrays, strings, booleans, integers, `nil`, and nesting. Output is
/// standard JSON that `JSONDecoder` reads. Floating-point values are written with Swift's shortest representation;
/// non-finite ones are refused.
package struct StreamingJSONEncoder {
    package init() {}

    package func encode(_ value: some Encodable) throws -> [UInt8] {
        let state = EncoderState()
        try state.encodeValue(value, codingPath: [])
        state.closeAll()
        return state.bytes
    }
}

/// The shared output and the stack of open containers.
private final class EncoderState {
    var bytes: [UInt8] = []
    /// Open containers, outermost first: `true` for an object, and whether it has an element yet.
    var stack: [(isObject: Bool, hasElement: Bool)] = []

    init() { bytes.reserveCapacity(512) }

    /// Closes containers until `depth` remain open.
    func close(to depth: Int) {
        while stack.count > depth {
            let top = stack.removeLast()
            bytes.append(top.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    func closeAll() { close(to: 0) }

    /// Opens a container at the current output position.
    func open(object: Bool) -> Int {
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        stack.append((object, false))
        return stack.count
    }

    /// Prepares container `depth` (1-based) for its next element: closes anything opened inside it since, and
    /// writes the separator and, for an object, the key.
    func beginElement(in depth: Int, key: String?) {
        close(to: depth)
        if stack[depth - 1].hasElement { bytes.append(UInt8(ascii: ",")) }
        stack[depth - 1].hasElement = true
        if let key {
            writeString(key)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    func encodeValue(_ value: some Encodable, codingPath: [any CodingKey]) throws {
        let depth = stack.count
        try value.encode(to: StreamingEncoder(state: self, codingPath: codingPath, depth: depth))
        close(to: depth)
    }

    func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Most strings need no escaping: copy them whole.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [
                        UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hex[Int(byte >> 4)], hex[Int(byte & 0x0F)],
                    ])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    func writeLiteral(_ text: String) { bytes.append(contentsOf: text.utf8) }

    func writeFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F, _ codingPath: [any CodingKey])
        throws
    {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        writeLiteral(value.description)
    }
}

private struct StreamingEncoder: Encoder {
    let state: EncoderState
    let codingPath: [any CodingKey]
    /// The stack depth when this encoder's value began.
    let depth: Int
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.close(to: depth)
        let own = state.open(object: true)
        return KeyedEncodingContainer(KeyedContainer<Key>(state: state, codingPath: codingPath, depth: own))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        state.close(to: depth)
        let own = state.open(object: false)
        return UnkeyedContainer(state: state, codingPath: codingPath, depth: own)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValue(state: state, codingPath: codingPath)
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncoderState
    let codingPath: [any CodingKey]
    let depth: Int

    private func begin(_ key: Key) { state.beginElement(in: depth, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws {
        begin(key)
        state.writeLiteral("null")
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        begin(key)
        state.writeLiteral(value ? "true" : "false")
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        begin(key)
        state.writeString(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        begin(key)
        try state.writeFloat(value, codingPath)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        begin(key)
        try state.writeFloat(value, codingPath)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try integer(value, key) }

    private func integer(_ value: some BinaryInteger, _ key: Key) throws {
        begin(key)
        state.writeLiteral(String(value))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        begin(key)
        try state.encodeValue(value, codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        begin(key)
        let own = state.open(object: true)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(state: state, codingPath: codingPath, depth: own))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        begin(key)
        let own = state.open(object: false)
        return UnkeyedContainer(state: state, codingPath: codingPath, depth: own)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: AnyKey(stringValue: "super")) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        begin(key)
        return StreamingEncoder(state: state, codingPath: codingPath, depth: state.stack.count)
    }

    private mutating func superEncoder(forKey key: AnyKey) -> any Encoder {
        state.beginElement(in: depth, key: key.stringValue)
        return StreamingEncoder(state: state, codingPath: codingPath, depth: state.stack.count)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let state: EncoderState
    let codingPath: [any CodingKey]
    let depth: Int
    private(set) var count = 0

    init(state: EncoderState, codingPath: [any CodingKey], depth: Int) {
        self.state = state
        self.codingPath = codingPath
        self.depth = depth
    }

    private mutating func begin() {
        state.beginElement(in: depth, key: nil)
        count += 1
    }

    mutating func encodeNil() throws {
        begin()
        state.writeLiteral("null")
    }
    mutating func encode(_ value: Bool) throws {
        begin()
        state.writeLiteral(value ? "true" : "false")
    }
    mutating func encode(_ value: String) throws {
        begin()
        state.writeString(value)
    }
    mutating func encode(_ value: Double) throws {
        begin()
        try state.writeFloat(value, codingPath)
    }
    mutating func encode(_ value: Float) throws {
        begin()
        try state.writeFloat(value, codingPath)
    }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    private mutating func integer(_ value: some BinaryInteger) {
        begin()
        state.writeLiteral(String(value))
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        begin()
        try state.encodeValue(value, codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        begin()
        let own = state.open(object: true)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(state: state, codingPath: codingPath, depth: own))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        begin()
        let own = state.open(object: false)
        return UnkeyedContainer(state: state, codingPath: codingPath, depth: own)
    }

    mutating func superEncoder() -> any Encoder {
        begin()
        return StreamingEncoder(state: state, codingPath: codingPath, depth: state.stack.count)
    }
}

private struct SingleValue: SingleValueEncodingContainer {
    let state: EncoderState
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { state.writeLiteral("null") }
    mutating func encode(_ value: Bool) throws { state.writeLiteral(value ? "true" : "false") }
    mutating func encode(_ value: String) throws { state.writeString(value) }
    mutating func encode(_ value: Double) throws { try state.writeFloat(value, codingPath) }
    mutating func encode(_ value: Float) throws { try state.writeFloat(value, codingPath) }
    mutating func encode(_ value: Int) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: Int8) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: Int16) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: Int32) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: Int64) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: UInt) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: UInt8) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: UInt16) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: UInt32) throws { state.writeLiteral(String(value)) }
    mutating func encode(_ value: UInt64) throws { state.writeLiteral(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try state.encodeValue(value, codingPath: codingPath) }
}
