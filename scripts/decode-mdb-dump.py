#!/usr/bin/env python3
"""Decode and verify a CaseLedger store from `mdb_dump -a` output, independently of the Swift library.

This is the reference decoder for Docs/StorageFormat.md (store format 1, record layout 1). It uses only the
Python 3 standard library and never touches the store itself: it reads the text that LMDB's own tool prints.

    mdb_dump -a /path/to/store > store.dump          # plain hex form (the default; do not pass -p)
    scripts/decode-mdb-dump.py store.dump            # or: mdb_dump -a /path/to/store | scripts/decode-mdb-dump.py
    scripts/decode-mdb-dump.py --json store.dump
    scripts/decode-mdb-dump.py --print-events store.dump

The `-p` (printable) form is refused: LMDB 0.9.24's mdb_dump prints a backslash byte unescaped, so `\\41` in that
form can mean one byte or three, and payloads (JSON with escaped quotes) do contain backslashes.

It decodes the `meta`, `events` and `streams` databases and checks, record by record in key order:
  1. the key is the next position (1, 2, 3, ...)                          kind "position sequence"
  2. SHA-256(previous chain hash || record bytes before the hash) equals
     the record's last 32 bytes (32 zero bytes precede position 1)         kind "chain hash"
  3. the record decodes (layout 1, flags, lengths, UTF-8)                  kind "decoding"
  4. the record's position field equals its key                           kind "position sequence"
  5. recorded-at is not before the previous record's                      kind "time order"
  6. the stream index maps (stream, version) to this position             kind "stream index"
  7. the version is 1 for a new stream, else the stream's last version + 1 kind "version sequence"
then that the meta `head` names the last record's position and chain hash (kind "head"), and that the stream
index holds exactly one entry per record (kind "stream index"). Before all that, meta `format` must be 1
(kind "format", position 0). The idempotency database is not checked (neither does the library's verify).

Output: a human summary, or with --json one JSON object
  {"ok": bool, "events": n, "streams": k, "head_position": p, "head_hash": "hex",
   "failure": null | {"position": p, "kind": "...", "message": "..."}}
where `events` is the number of records in the events database, `streams` the number of distinct stream ids
in the stream index, and `head_*` the head recorded in meta (null when unreadable). Position 0 in a failure
means the store as a whole (meta), not a record.
--print-events first prints every record that decodes as one JSON line (metadata and payload as UTF-8 text
when they are valid UTF-8, else hex; see the *_encoding fields).

Exit status: 0 when everything holds, 1 at the first failure (reported with its position), 2 when the input
is unusable (not `mdb_dump` hex output, or no CaseLedger store: meta/events/streams or meta `format` missing).
"""

import argparse
import datetime
import hashlib
import json
import sys
import uuid

STORE_FORMAT = 1
LAYOUT_VERSION = 1
FIXED_HEADER = 80          # bytes before the first variable-length field
HASH_SIZE = 32
MIN_RECORD = FIXED_HEADER + 6 * 2 + 2 * 4 + HASH_SIZE   # six empty strings, two empty blobs
FLAG_CORRELATION, FLAG_CAUSATION, FLAG_IDEMPOTENCY = 0x01, 0x02, 0x04
ZERO_HASH = bytes(HASH_SIZE)


class UnusableInput(Exception):
    """The input is not mdb_dump hex output of a CaseLedger store."""


class DecodeError(Exception):
    """A record does not decode; the message says why."""


class Failure(Exception):
    def __init__(self, position, kind, message):
        super().__init__(message)
        self.position, self.kind, self.message = position, kind, message


# ---------------------------------------------------------------------------------------------- mdb_dump text

def parse_dump(text):
    """Returns {database name: [(key bytes, value bytes), ...]} in dump order ("" names the main database)."""
    databases = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "":
            index += 1
            continue
        header = {}
        while True:  # header: NAME=value lines up to HEADER=END
            if index >= len(lines):
                raise UnusableInput("input ends inside a header (no HEADER=END)")
            line = lines[index]
            index += 1
            if line == "HEADER=END":
                break
            name, sep, value = line.partition("=")
            if not sep or line.startswith(" "):
                raise UnusableInput(f"line {index}: expected a header line NAME=value, found {line[:60]!r}")
            header[name] = value
        if header.get("VERSION") != "3":
            raise UnusableInput(f"line {index}: dump format VERSION={header.get('VERSION')} (expected 3)")
        if header.get("format") == "print":
            raise UnusableInput(
                "this is `mdb_dump -p` output, which LMDB 0.9.24 prints ambiguously (a backslash byte is not "
                "escaped); dump without -p to get the plain hex form")
        if header.get("format") != "bytevalue":
            raise UnusableInput(f"line {index}: unknown dump format {header.get('format')!r}")
        if header.get("type", "btree") != "btree" or header.get("duplicates"):
            raise UnusableInput(f"line {index}: unexpected database type (CaseLedger databases are plain btrees)")
        name = header.get("database", "")
        if name in databases:
            raise UnusableInput(f"line {index}: database {name!r} appears twice")
        entries = []
        pending_key = None
        while True:  # data: one key line, one value line, each starting with a space; then DATA=END
            if index >= len(lines):
                raise UnusableInput(f"database {name!r}: input ends before DATA=END")
            line = lines[index]
            index += 1
            if line == "DATA=END":
                break
            if not line.startswith(" "):
                raise UnusableInput(f"line {index}: data lines start with a space, found {line[:60]!r}")
            try:
                data = bytes.fromhex(line[1:]) if len(line[1:]) % 2 == 0 else None
            except ValueError:
                data = None
            if data is None or " " in line[1:]:
                raise UnusableInput(f"line {index}: not an even-length hex string")
            if pending_key is None:
                pending_key = data
            else:
                entries.append((pending_key, data))
                pending_key = None
        if pending_key is not None:
            raise UnusableInput(f"database {name!r}: a key without a value")
        databases[name] = entries
    return databases


# ---------------------------------------------------------------------------------------------- record layout 1

def u16(b, o): return int.from_bytes(b[o:o + 2], "big")
def u32(b, o): return int.from_bytes(b[o:o + 4], "big")
def u64(b, o): return int.from_bytes(b[o:o + 8], "big")
def i64(b, o): return int.from_bytes(b[o:o + 8], "big", signed=True)


def decode_record(b):
    """Decodes one events value (record layout 1). Raises DecodeError."""
    if len(b) < MIN_RECORD:
        raise DecodeError(f"record of {len(b)} bytes is shorter than the smallest record ({MIN_RECORD})")
    if b[0] != LAYOUT_VERSION:
        raise DecodeError(f"unknown record layout version {b[0]}")
    flags = b[1]
    if flags & ~(FLAG_CORRELATION | FLAG_CAUSATION | FLAG_IDEMPOTENCY) or u16(b, 2) != 0:
        raise DecodeError("unknown flags or reserved bits set")
    limit = len(b) - HASH_SIZE
    offset = FIXED_HEADER

    def string16(field):
        nonlocal offset
        if offset + 2 > limit:
            raise DecodeError(f"{field} length runs past the record")
        count = u16(b, offset)
        offset += 2
        if offset + count > limit:
            raise DecodeError(f"{field} runs past the record")
        raw = b[offset:offset + count]
        offset += count
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{field} is not valid UTF-8") from None

    def bytes32(field):
        nonlocal offset
        if offset + 4 > limit:
            raise DecodeError(f"{field} length runs past the record")
        count = u32(b, offset)
        offset += 4
        if count > limit - offset:
            raise DecodeError(f"{field} runs past the record")
        raw = b[offset:offset + count]
        offset += count
        return raw

    record = {
        "flags": flags,
        "schema_version": u32(b, 4),
        "position": u64(b, 8),
        "version": u64(b, 16),
        "recorded_at_us": i64(b, 24),
        "event_id": uuid.UUID(bytes=b[32:48]),
        "correlation_id": uuid.UUID(bytes=b[48:64]) if flags & FLAG_CORRELATION else None,
        "causation_id": uuid.UUID(bytes=b[64:80]) if flags & FLAG_CAUSATION else None,
    }
    record["stream"] = string16("stream id")
    record["type"] = string16("event type")
    record["actor"] = {"user": string16("actor user id"), "role": string16("actor role"),
                       "unit": string16("actor unit")}
    key = string16("idempotency key")
    record["idempotency_key"] = key if flags & FLAG_IDEMPOTENCY else None
    record["metadata"] = bytes32("metadata")
    record["payload"] = bytes32("payload")
    if offset != limit:
        raise DecodeError(f"{limit - offset} unexpected bytes before the chain hash")
    if record["stream"] == "":
        raise DecodeError("empty stream id")
    if key and not flags & FLAG_IDEMPOTENCY:
        raise DecodeError("idempotency key bytes without the idempotency flag")
    record["chain_hash"] = b[limit:]
    return record


def stream_key(stream, version):
    """Stream index key: stream id UTF-8, 0x00, u64 BE version."""
    return stream.encode("utf-8") + b"\x00" + version.to_bytes(8, "big")


def split_stream_key(key):
    """(stream id, version) of a well-formed stream index key, else None."""
    if len(key) < 10 or key[-9] != 0 or 0 in key[:-9]:
        return None
    try:
        return key[:-9].decode("utf-8"), u64(key, len(key) - 8)
    except UnicodeDecodeError:
        return None


def position_value(value):
    return u64(value, 0) if len(value) == 8 else None


# ---------------------------------------------------------------------------------------------- verification

class Store:
    def __init__(self, databases):
        for name in ("meta", "events", "streams"):
            if name not in databases:
                raise UnusableInput(f"the dump has no {name!r} database: not a CaseLedger store, or not "
                                    "dumped with -a")
        self.meta = dict(databases["meta"])
        self.events = databases["events"]
        self.streams = databases["streams"]
        self.index = dict(self.streams)
        if b"format" not in self.meta:
            raise UnusableInput("the meta database has no format record: not a CaseLedger store")
        head = self.meta.get(b"head")
        self.head = None
        if head is not None and len(head) == 48:
            self.head = (u64(head, 0), head[8:40], i64(head, 40))
        self.stream_ids = {parts[0] for parts in (split_stream_key(k) for k, _ in self.streams) if parts}

    def verify(self):
        """Raises Failure at the first thing that does not hold."""
        fmt = self.meta[b"format"]
        if len(fmt) != 4 or u32(fmt, 0) != STORE_FORMAT:
            shown = u32(fmt, 0) if len(fmt) == 4 else f"of {len(fmt)} bytes"
            raise Failure(0, "format", f"the store has format {shown}; this decoder reads format "
                                       f"{STORE_FORMAT} only")
        if self.head is None:
            raise Failure(0, "head", "the meta head record is missing or not 48 bytes")
        previous_hash, previous_time = ZERO_HASH, None
        last_version = {}
        expected = 1
        for key, value in self.events:
            position = expected
            found = position_value(key)
            if found != position:
                raise Failure(position, "position sequence", f"expected key {position}, found "
                              f"{found if found is not None else 'a malformed key ' + key.hex()}")
            if len(value) <= HASH_SIZE:
                raise Failure(position, "decoding", f"the record has {len(value)} bytes, too few to hold its hash")
            computed = hashlib.sha256(previous_hash + value[:-HASH_SIZE]).digest()
            if computed != value[-HASH_SIZE:]:
                raise Failure(position, "chain hash",
                              f"SHA-256 over the previous hash and the record's bytes is {computed.hex()}, the "
                              f"stored chain hash is {value[-HASH_SIZE:].hex()}: the record or its hash was changed")
            try:
                record = decode_record(value)
            except DecodeError as error:
                raise Failure(position, "decoding", str(error)) from None
            if record["position"] != position:
                raise Failure(position, "position sequence", f"the record's position field says {record['position']}")
            if previous_time is not None and record["recorded_at_us"] < previous_time:
                raise Failure(position, "time order", f"recorded at {record['recorded_at_us']} us, before the "
                                                       f"previous record ({previous_time} us)")
            stream, version = record["stream"], record["version"]
            indexed = self.index.get(stream_key(stream, version))
            if indexed is None or position_value(indexed) != position:
                raise Failure(position, "stream index",
                              f"the stream index does not map {stream}@{version} to this position")
            if version != last_version.get(stream, 0) + 1:
                raise Failure(position, "version sequence", f"version {version} of {stream} does not follow "
                                                            f"version {last_version.get(stream, 0)}")
            last_version[stream] = version
            previous_hash, previous_time = computed, record["recorded_at_us"]
            expected += 1
        count = expected - 1
        head_position, head_hash, _ = self.head
        if head_position != count or head_hash != previous_hash:
            raise Failure(min(head_position, count) + 1, "head",
                          f"the recorded head is position {head_position} (hash {head_hash.hex()}) but the log ends "
                          f"at {count} (hash {previous_hash.hex()})")
        if len(self.streams) != count:
            for key, value in self.streams:
                parts, position = split_stream_key(key), position_value(value)
                if parts is None or position is None:
                    raise Failure(position or 0, "stream index", f"malformed stream index entry {key.hex()}")
                if not 1 <= parts[1] <= last_version.get(parts[0], 0):
                    raise Failure(position, "stream index", f"the stream index entry {parts[0]}@{parts[1]} names "
                                                            f"position {position}, which holds another event")
            raise Failure(count, "stream index", f"the stream index has {len(self.streams)} entries for "
                                                 f"{count} events")


def text_or_hex(data):
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.hex(), "hex"


def event_line(key, value):
    position = position_value(key)
    try:
        r = decode_record(value)
    except DecodeError as error:
        return {"position": position, "key": key.hex(), "decode_error": str(error)}
    metadata, metadata_encoding = text_or_hex(r["metadata"])
    payload, payload_encoding = text_or_hex(r["payload"])
    uuid_text = lambda u: str(u) if u is not None else None
    return {
        "position": r["position"], "stream": r["stream"], "version": r["version"], "type": r["type"],
        "schema_version": r["schema_version"], "recorded_at_us": r["recorded_at_us"], "actor": r["actor"],
        "event_id": uuid_text(r["event_id"]), "correlation_id": uuid_text(r["correlation_id"]),
        "causation_id": uuid_text(r["causation_id"]), "idempotency_key": r["idempotency_key"],
        "metadata": metadata, "metadata_encoding": metadata_encoding,
        "payload": payload, "payload_encoding": payload_encoding, "chain_hash": r["chain_hash"].hex(),
    }


def iso(microseconds):
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=microseconds)
    return moment.isoformat().replace("+00:00", "Z")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Decode and verify a CaseLedger store from `mdb_dump -a` output.")
    parser.add_argument("dump", nargs="?", help="mdb_dump -a output (plain hex form); stdin when omitted or '-'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    parser.add_argument("--print-events", action="store_true", help="print each decoded record as a JSON line")
    args = parser.parse_args(argv)

    def report(ok, store, failure):
        head = store.head if store is not None else None
        if args.json:
            print(json.dumps({
                "ok": ok,
                "events": len(store.events) if store else 0,
                "streams": len(store.stream_ids) if store else 0,
                "head_position": head[0] if head else None,
                "head_hash": head[1].hex() if head else None,
                "failure": None if failure is None else
                {"position": failure.position, "kind": failure.kind, "message": failure.message},
            }))
        elif ok:
            print(f"ok: format {STORE_FORMAT}, {len(store.events)} events in {len(store.stream_ids)} streams; chain, "
                  f"positions, versions, stream index, time order and head hold")
            print(f"head: position {head[0]}, chain hash {head[1].hex()}, recorded at {iso(head[2])}")
        else:
            print(f"FAILED at position {failure.position}: {failure.kind}: {failure.message}")

    try:
        if args.dump in (None, "-"):
            raw = sys.stdin.buffer.read()
        else:
            with open(args.dump, "rb") as handle:
                raw = handle.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UnusableInput("the input is not text") from None
        store = Store(parse_dump(text))
    except (UnusableInput, OSError) as error:
        message = f"unusable input: {error}"
        if args.json:
            report(False, None, Failure(0, "unusable input", str(error)))
        print(f"decode-mdb-dump: {message}", file=sys.stderr)
        return 2

    try:
        if args.print_events:
            for key, value in store.events:
                print(json.dumps(event_line(key, value), ensure_ascii=False))
        try:
            store.verify()
        except Failure as failure:
            report(False, store, failure)
            return 1
        report(True, store, None)
        return 0
    except BrokenPipeError:
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
