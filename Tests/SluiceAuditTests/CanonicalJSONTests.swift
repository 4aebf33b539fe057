import Foundation
import SluiceCore
import Testing
@testable import SluiceAudit

@Suite struct CanonicalJSONTests {
    @Test func sortsKeysAndWritesNoWhitespace() {
        let value: JSONValue = ["b": 1, "a": ["z": true, "y": .null], "c": ["x", 2]]
        #expect(CanonicalJSON.encode(value) == #"{"a":{"y":null,"z":true},"b":1,"c":["x",2]}"#)
    }

    @Test func escapesOnlyQuotesBackslashesAndControlCharacters() {
        let value: JSONValue = .string("a\"b\\c\nd\u{01}é/€")
        #expect(CanonicalJSON.encode(value) == "\"a\\\"b\\\\c\\u000ad\\u0001é/€\"")
    }

    @Test func ordersKeysByUTF8Bytes() {
        let value: JSONValue = ["é": 1, "z": 2, "Z": 3]
        #expect(CanonicalJSON.encode(value) == #"{"Z":3,"z":2,"é":1}"#)
    }

    @Test func hashIsSHA256OfPreviousHashThenCanonicalJSON() {
        // Given the genesis hash and a known JSON text, when hashed, then it is the SHA-256 of
        // their concatenation (computed independently with sha256sum).
        let hash = EventChain.hash(previous: EventChain.genesisHash, canonicalJSON: "{}")
        #expect(hash == "5508d2b710e64bc470079e1b211d9c58e21011e59d0559e422345dc19d659a75")
        #expect(hash != EventChain.hash(previous: EventChain.genesisHash, canonicalJSON: "{ }"))
    }

    @Test func rowCanonicalJSONCoversEveryColumnButTheHashes() {
        let event = RecordedEvent(
            seq: 7, time: "2026-11-21T08:30:15.123Z", runID: "r-20261121-083015-7f3a", actor: "alice",
            kind: "step.finished", target: "ap01-a", stage: "canary", step: "apply", status: "failed",
            exitCode: 2, durationMilliseconds: 1500, detail: #"{"output":"boom"}"#,
            prevHash: EventChain.genesisHash, hash: "")
        #expect(event.canonicalJSON == #"{"actor":"alice","detail":"{\"output\":\"boom\"}","duration_ms":1500,"#
            + #""exit_code":2,"kind":"step.finished","run_id":"r-20261121-083015-7f3a","seq":7,"stage":"canary","#
            + #""status":"failed","step":"apply","target":"ap01-a","time":"2026-11-21T08:30:15.123Z"}"#)
    }

    @Test func absentColumnsAreNull() {
        let event = RecordedEvent(
            seq: 1, time: "2026-11-21T08:30:15.123Z", runID: nil, actor: "bob", kind: "lock.forced", target: nil,
            stage: nil, step: nil, status: nil, exitCode: nil, durationMilliseconds: nil, detail: "{}",
            prevHash: EventChain.genesisHash, hash: "")
        #expect(event.canonicalJSON.contains(#""run_id":null"#))
        #expect(event.canonicalJSON.contains(#""exit_code":null"#))
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_795_249_815_123), "2026-11-21T08:30:15.123Z"),
        (Int64(951_782_400_999), "2000-02-29T00:00:00.999Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func formatsAndParsesUTCMilliseconds(milliseconds: Int64, text: String) {
        #expect(Timestamp.format(millisecondsSince1970: milliseconds) == text)
        #expect(Timestamp.milliseconds(text) == milliseconds)
    }

    @Test(arguments: ["", "2026-11-21T08:30:15Z", "2026-13-21T08:30:15.123Z", "2026-11-21 08:30:15.123Z"])
    func rejectsOtherForms(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}

@Suite struct RunIDTests {
    @Test func generatesTheDocumentedFormFromUTCTime() {
        let date = Date(timeIntervalSince1970: 1_795_249_815.9)
        #expect(RunID(startedAt: date, suffix: 0x7f3a).rawValue == "r-20261121-083015-7f3a")
        #expect(RunID(startedAt: date, suffix: 0x000b).rawValue == "r-20261121-083015-000b")
    }

    @Test func generatedIDsParse() {
        for _ in 0..<100 {
            let id = RunID.generate()
            #expect(RunID(id.rawValue) == id)
        }
    }

    @Test(arguments: [
        "r-20261121-083015-7f3a",
        "r-20000229-235959-0000",
    ])
    func acceptsWellFormedIDs(text: String) {
        #expect(RunID(text)?.rawValue == text)
    }

    @Test(arguments: [
        "", "r-20261121-083015-7F3A", "r-20261121-083015-7f3", "x-20261121-083015-7f3a", "r-20261321-083015-7f3a",
        "r-20261121-243015-7f3a", "r-20261121-083015-7f3g", "r-2026112-1083015-7f3a", " r-20261121-083015-7f3a",
    ])
    func rejectsMalformedIDs(text: String) {
        #expect(RunID(text) == nil)
    }

    @Test func roundTripsThroughJSON() throws {
        let id = try #require(RunID("r-20261121-083015-7f3a"))
        let data = try JSONEncoder().encode([id])
        #expect(String(decoding: data, as: UTF8.self) == #"["r-20261121-083015-7f3a"]"#)
        #expect(try JSONDecoder().decode([RunID].self, from: data) == [id])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([RunID].self, from: Data(#"["r-1"]"#.utf8))
        }
    }
}

@Suite struct EventExportTests {
    static let event = RecordedEvent(
        seq: 3, time: "2026-11-21T08:30:15.123Z", runID: nil, actor: "al\"ice", kind: "step.finished",
        target: "a,b", stage: "line\nbreak", step: "plain", status: nil, exitCode: 0, durationMilliseconds: nil,
        detail: "{}", prevHash: "p", hash: "h")

    @Test func csvQuotesFieldsThatNeedItAndLeavesAbsentValuesEmpty() {
        #expect(EventExport.header(.csv) == EventExport.columns.joined(separator: ",") + "\r\n")
        #expect(EventExport.line(Self.event, format: .csv)
            == "3,2026-11-21T08:30:15.123Z,,\"al\"\"ice\",step.finished,\"a,b\",\"line\nbreak\",plain,,0,,{},p,h\r\n")
    }

    @Test func jsonLinesHoldEveryColumnWithSortedKeys() {
        let line = EventExport.line(Self.event, format: .jsonl)
        #expect(line.hasSuffix("}\n"))
        #expect(line.hasPrefix(#"{"actor":"al\"ice","detail":{},"duration_ms":null,"exit_code":0,"hash":"h","#))
        #expect(EventExport.header(.jsonl) == nil)
    }
}

@Suite struct RowCanonicalFormTests {
    @Test(arguments: [
        RecordedEvent(seq: 1, time: "t", runID: nil, actor: "a\"\\\n", kind: "k", target: "é€", stage: nil, step: "",
                      status: "s", exitCode: -3, durationMilliseconds: 0, detail: #"{"x":"\u000a"}"#, prevHash: "",
                      hash: ""),
        RecordedEvent(seq: 99, time: "2026-11-21T08:30:15.123Z", runID: "r-20261121-083015-7f3a", actor: "b", kind: "k",
                      target: nil, stage: "st", step: nil, status: nil, exitCode: nil, durationMilliseconds: nil,
                      detail: "{}", prevHash: "", hash: ""),
    ])
    func rowFormEqualsTheGeneralEncoderOnTheSameObject(event: RecordedEvent) {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func number(_ value: Int64?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        let general = CanonicalJSON.encode(.object([
            "seq": .integer(event.seq), "time": .string(event.time), "run_id": text(event.runID),
            "actor": .string(event.actor), "kind": .string(event.kind), "target": text(event.target),
            "stage": text(event.stage), "step": text(event.step), "status": text(event.status),
            "exit_code": number(event.exitCode.map(Int64.init)), "duration_ms": number(event.durationMilliseconds),
            "detail": .string(event.detail),
        ]))
        #expect(event.canonicalJSON == general)
    }
}
