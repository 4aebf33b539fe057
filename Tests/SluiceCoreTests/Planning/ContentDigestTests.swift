import Foundation
import Testing
@testable import SluiceCore

@Suite("Content hash over runbook, scripts, sources and inventory")
struct ContentDigestTests {
    static let runbook = """
        sluice: 1
        id: digest
        inventory: inventory/hosts.yaml
        steps:
          - name: conf
            file: { path: /tmp/x.conf, source: files/x.conf }
          - name: apply
            run: scripts/apply.sh {{ target.name }}

        """

    static func fixture() throws -> RunbookFixture {
        let fixture = try RunbookFixture()
        try fixture.write("runbook.yaml", runbook)
        try fixture.write("inventory/hosts.yaml", "- name: web1\n")
        try fixture.write("files/x.conf", "x = 1\n")
        try fixture.write("scripts/apply.sh", "#!/bin/sh\necho apply\n", executable: true)
        return fixture
    }

    static func digest(_ fixture: RunbookFixture) throws -> ContentDigest {
        let result = RunbookLoader().load(path: fixture.directory.appendingPathComponent("runbook.yaml").path)
        return ContentDigest(runbook: try #require(result.validRunbook))
    }

    @Test(arguments: [
        ("runbook.yaml", runbook + "# a comment\n", "runbook runbook.yaml changed"),
        ("scripts/apply.sh", "#!/bin/sh\necho changed\n", "script scripts/apply.sh changed"),
        ("files/x.conf", "x = 2\n", "source files/x.conf changed"),
        ("inventory/hosts.yaml", "- name: web2\n", "inventory inventory/hosts.yaml changed"),
    ])
    func anyChangeChangesTheHashAndIsNamed(_ file: String, _ content: String, _ named: String) throws {
        // Given a runbook and its digest
        let fixture = try Self.fixture()
        let before = try Self.digest(fixture)
        // When one file it depends on changes
        try fixture.write(file, content, executable: file.hasSuffix(".sh"))
        let after = try Self.digest(fixture)
        // Then the hash changes and the change names that file
        #expect(after.hash != before.hash)
        #expect(after.changes(since: before) == [named])
    }

    @Test func sameContentElsewhereHasTheSameHash() throws {
        let first = try Self.fixture(), second = try Self.fixture()
        #expect(first.directory != second.directory)
        #expect(try Self.digest(first).hash == Self.digest(second).hash)
        #expect(try Self.digest(first).files.map(\.role) == ["inventory", "runbook", "script", "source"])
    }

    @Test(arguments: [
        ("sh scripts/x.sh", [["sh", "scripts/x.sh"]], ["scripts/x.sh"]),
        ("cd tools && python3 'z.py' --fast", [["cd", "tools"], ["python3", "z.py", "--fast"]], ["z.py", "--fast"]),
        ("bash ./y > out/log 2>&1; cat <input.txt", [["bash", "./y"], ["cat", "input.txt"]], ["./y"]),
        ("echo {{ target.name }} >> log", [["echo"]], []),
        ("env A=1 /usr/bin/perl x.pl | tee copy", [["env", "A=1", "/usr/bin/perl", "x.pl"], ["tee", "copy"]], ["x.pl"]),
        ("[ -e state ] || touch state", [["[", "-e", "state", "]"], ["touch", "state"]], []),
    ])
    func aShellCommandSplitsIntoSimpleCommandsAndItsInterpretersArguments(_ text: String, _ invocations: [[String]], _ arguments: [String]) throws {
        let command = try ShellQuotingTests.command(text)
        #expect(command.invocations == invocations)
        #expect(command.interpreterArguments == arguments)
    }
}
