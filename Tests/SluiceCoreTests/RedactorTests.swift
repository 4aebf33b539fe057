import Testing
@testable import SluiceCore

@Suite("Masking secret values")
struct RedactorTests {
    static let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n}\n-----END PRIVATE KEY-----"

    @Test func aMultiLineSecretIsMaskedWholeAndLineByLine() {
        let redactor = Redactor(secrets: [Self.key])
        // Whole, in one text (the store, --json): one mask
        #expect(redactor.redact("key:\n\(Self.key)\n") == "key:\n***\n")
        // A line at a time, as live output arrives: each line of at least six characters
        #expect(redactor.redact("  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") == "  ***")
        #expect(redactor.redact("-----END PRIVATE KEY-----") == "***")
        // A short line of it is not a secret by itself: masking `}` would garble every output
        #expect(redactor.redact("}") == "}")
    }

    @Test func aOneLineSecretIsMaskedOnlyWhole() {
        let redactor = Redactor(secrets: ["hunter2 and more"])
        #expect(redactor.redact("pw=hunter2 and more") == "pw=***")
        #expect(redactor.redact("hunter2") == "hunter2")
    }
}
