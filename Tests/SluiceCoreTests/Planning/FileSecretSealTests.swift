import Foundation
import SluiceCore
import Testing

@Suite("Sealing secrets out of file backups")
struct FileSecretSealTests {
    @Test func sealingReplacesEverySecretAndUnsealingGivesBackTheExactBytes() {
        // Given bytes holding two secrets, one inside the other, and bytes that are not UTF-8
        let seal = FileSecretSeal(values: ["short": "pass", "long": "password123", "empty": ""])
        let original = Data("user=admin password123 pass\n".utf8) + Data([0xFF, 0x00, 0xC3]) + Data("pass".utf8)

        // When sealed
        let sealed = seal.seal(original)

        // Then no value is left, the tokens name the variables, and unsealing is exact
        #expect(sealed.range(of: Data("pass".utf8)) == nil)
        #expect(FileSecretSeal.names(in: sealed) == ["short", "long"])
        #expect(seal.unseal(sealed) == original)
        #expect(seal.seal("/etc/pass/x.conf") == "/etc/\u{1}sluice-secret:short\u{1}/x.conf")
    }

    @Test func bytesWithoutSecretsAreLeftAsTheyAre() {
        let seal = FileSecretSeal(values: ["token": "hunter2"])
        let data = Data("nothing to hide\n".utf8)
        #expect(seal.seal(data) == data)
        #expect(FileSecretSeal.names(in: data).isEmpty)
    }
}
