import Testing
@testable import SluiceCore

@Suite("Runbook durations")
struct DurationTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("2h", .seconds(7200)),
        ("0s", .zero),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(RunbookDuration.parse(text) == expected)
        #expect(RunbookDuration.parse(RunbookDuration.format(expected)) == expected)
    }

    @Test(arguments: ["", "s", "30", "30 s", "1.5s", "-5s", "5d", "1h30m", "30S", "+5s", "１０s", "9999999999h"])
    func rejects(_ text: String) {
        #expect(RunbookDuration.parse(text) == nil)
    }
}
